"""moto_server, with two S3 answers put right for strict clients.

moto 5.2 names the root element of the GetBucketVersioning and GetBucketNotificationConfiguration answers
`GetBucketVersioningResponse` and `GetBucketNotificationResponse`; AWS names them `VersioningConfiguration` and
`NotificationConfiguration`. botocore does not look at the root, the Rust SDK does and refuses the answer. This
renames the two roots and changes nothing else; the tests and the demo start moto through it.

Usage: python3 scripts/moto_server.py -H 127.0.0.1 -p PORT
"""

import sys

from moto.s3.responses import S3Response
from moto.server import main

ROOTS = {
    "get_bucket_versioning": ("GetBucketVersioningResponse", "VersioningConfiguration"),
    "get_bucket_notification": ("GetBucketNotificationResponse", "NotificationConfiguration"),
}


def renamed(text, wrong, right):
    if isinstance(text, bytes):
        return text.replace(wrong.encode(), right.encode())
    if isinstance(text, str):
        return text.replace(wrong, right)
    return text


def with_root(method, wrong, right):
    def answer(self, *args, **kwargs):
        result = method(self, *args, **kwargs)
        if isinstance(result, tuple) and len(result) == 3:
            status, headers, body = result
            return status, headers, renamed(body, wrong, right)
        return renamed(result, wrong, right)

    return answer


for name, (wrong, right) in ROOTS.items():
    setattr(S3Response, name, with_root(getattr(S3Response, name), wrong, right))

if __name__ == "__main__":
    main(sys.argv[1:])
