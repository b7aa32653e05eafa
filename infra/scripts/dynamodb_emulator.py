"""moto's DynamoDB server, serving one request at a time.

DynamoDB applies each conditional write atomically; moto_server handles requests on many threads
without locking its tables, so two racing conditional writes can both succeed there (seen: two
concurrent `attribute_not_exists` puts both winning). Serving requests one at a time restores the
per-request atomicity DynamoDB guarantees, which the store's concurrency tests rely on.

Usage: python dynamodb_emulator.py PORT
"""

import os
import signal
import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def main() -> None:
    port = int(sys.argv[1])
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple("127.0.0.1", port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
