"""Health check: answers GET /health so load balancers and uptime checks know the API is up."""

import json
import os


def handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"status": "ok", "environment": os.environ.get("ENVIRONMENT", "unknown")}),
    }
