"""The dashboard: a Streamlit app over ``python -m warehouse serve``'s HTTP API (``python -m warehouse dashboard``).

* :mod:`warehouse.dashboard.client`: the API calls (httpx), each failure one line
  (:class:`~warehouse.dashboard.client.ApiError`);
* :mod:`warehouse.dashboard.shape`: pure helpers turning API answers into tables;
* :mod:`warehouse.dashboard.figures`: the plotly figures (candles with volume, raw vs rollup);
* :mod:`warehouse.dashboard.app`: the Streamlit script (``streamlit run warehouse/dashboard/app.py -- --api URL``);
* :mod:`warehouse.dashboard.cli`: ``python -m warehouse dashboard``, which checks the API answers, then runs Streamlit.

The dashboard reads only through the API: no SQL and no warehouse connection of its own.
"""

DEFAULT_API = "http://127.0.0.1:8123"
"""The serve the dashboard shows when neither ``--api`` nor ``$TICKHOUSE_API`` names one."""
API_ENV = "TICKHOUSE_API"
TOKEN_ENV = "TICKHOUSE_TOKEN"
