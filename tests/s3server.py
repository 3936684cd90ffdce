"""An S3-compatible server on 127.0.0.1 for the remote data-root tests and bench: moto's
own WSGI app under werkzeug (as moto's ThreadedMotoServer runs it), behind a small WSGI
layer that records every request (method, object key, Range, bytes sent) and can answer
403 for chosen keys (access denied). No network beyond the loopback."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

ACCESS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
          "AWS_SESSION_TOKEN": "testing", "AWS_EC2_METADATA_DISABLED": "true"}


@dataclass
class Request:
    method: str
    path: str  # /bucket/key
    query: str
    range: str | None
    sent: int = 0  # body bytes of the answer


def _counted(body, req: Request):
    for chunk in body:
        req.sent += len(chunk)
        yield chunk


@dataclass
class S3Server:
    log: list[Request] = field(default_factory=list)
    denied: set[str] = field(default_factory=set)  # "/bucket/key" prefixes answered 403
    url: str = ""

    def start(self) -> S3Server:
        from moto.moto_server import werkzeug_app
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
        app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()

        def counting(environ, start_response):
            path = unquote(environ.get("PATH_INFO", ""))
            req = Request(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""),
                          environ.get("HTTP_RANGE"))
            with self._lock:
                self.log.append(req)
            if any(path.startswith(p) for p in self.denied):
                body = (b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                        b"<Message>Access Denied</Message></Error>")
                start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                                  ("Content-Length", str(len(body)))])
                return [body]
            return _counted(app(environ, start_response), req)

        # moto >= 5.2.6 keeps underscored metadata headers with its own handler; older ones (5.2.1 is a
        # common preinstall) have none, and these tests send no such header
        handler = getattr(werkzeug_app, "MotoRequestHandler", None)
        self._server = make_server("127.0.0.1", 0, counting, threaded=True, request_handler=handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="testing",
                            aws_secret_access_key="testing")

    def upload(self, bucket: str, folder: Path, prefix: str) -> None:
        """Every file under `folder` to s3://bucket/prefix/..., the bucket made if missing."""
        s3 = self.client()
        try:
            s3.create_bucket(Bucket=bucket)
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                s3.put_object(Bucket=bucket, Key=f"{prefix}/{path.relative_to(folder).as_posix()}",
                              Body=path.read_bytes())

    def object_requests(self, bucket: str, key_prefix: str = "") -> list[Request]:
        """The requests for objects (not listings) under bucket/key_prefix."""
        start = f"/{bucket}/{key_prefix}"
        return [r for r in self.log if r.path.startswith(start) and r.path != f"/{bucket}/"
                and r.path.rstrip("/") != f"/{bucket}" and "list-type" not in r.query]

    def set_mtime(self, bucket: str, key: str, when: float) -> None:
        """The object's last-modified, as the store lists it (whole seconds), set to `when`:
        moto's in-process backend, so a test gives a remote object the age of a local file."""
        from datetime import datetime, timezone

        from moto.s3.models import s3_backends

        for account in list(s3_backends):
            buckets = s3_backends[account]["global"].buckets
            if bucket in buckets:
                obj = buckets[bucket].keys[key]
                obj.last_modified = datetime.fromtimestamp(int(when), timezone.utc).replace(tzinfo=None)
                return
        raise KeyError(f"{bucket}/{key}")

    def clear(self) -> None:
        with self._lock:
            self.log.clear()
