"""``python -m warehouse``: see :mod:`warehouse.cli`."""

import sys

from warehouse.stream import kafka_prejoin

kafka_prejoin.start(sys.argv[1:])  # `ingest kafka`: the group join runs while the CLI's modules load

from warehouse.cli import main  # noqa: E402

sys.exit(main())
