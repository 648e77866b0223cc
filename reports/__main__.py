"""``python -m reports``: open a report (:mod:`reports.open`) or ``compare RUN_A RUN_B`` (:mod:`reports.compare`)."""

import sys

from reports import compare, open as open_report

if sys.argv[1:2] == ["compare"]:
    sys.exit(compare.main(sys.argv[2:]))
sys.exit(open_report.main())
