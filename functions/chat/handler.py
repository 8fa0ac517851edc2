"""Chat handler: stores each message in the chat history table and answers it.

Reads its configuration from environment variables set by the stack; talks to DynamoDB and Secrets Manager
through boto3, which the Lambda Python runtime provides.
"""

import json
import os
import time
import uuid

import boto3

_dynamodb = boto3.resource("dynamodb")
_secrets = boto3.client("secretsmanager")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": os.environ.get("ALLOWED_ORIGIN", "*"),
    "Content-Type": "application/json",
}


def _response(status, body):
    return {"statusCode": status, "headers": CORS_HEADERS, "body": json.dumps(body)}


def handler(event, context):
    try:
        payload = json.loads(event.get("body") or "{}")
    except json.JSONDecodeError:
        return _response(400, {"error": "body must be JSON"})
    message = payload.get("message")
    if not isinstance(message, str) or not message.strip():
        return _response(400, {"error": "`message` is required"})
    session_id = payload.get("sessionId") or str(uuid.uuid4())
    user_id = payload.get("userId", "anonymous")
    now = int(time.time() * 1000)

    sessions = _dynamodb.Table(os.environ["SESSION_TABLE"])
    sessions.put_item(Item={"sessionId": session_id, "userId": user_id, "expiresAt": now // 1000 + 3600})

    history = _dynamodb.Table(os.environ["CHAT_HISTORY_TABLE"])
    history.put_item(Item={"sessionId": session_id, "timestamp": now, "userId": user_id, "role": "user", "text": message})

    reply = f"You said: {message}"
    history.put_item(Item={"sessionId": session_id, "timestamp": now + 1, "userId": user_id, "role": "assistant", "text": reply})
    return _response(200, {"sessionId": session_id, "reply": reply})
