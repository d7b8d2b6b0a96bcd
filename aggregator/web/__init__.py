"""`bzagg web`: the Department's live dashboard, read-only on the store, behind a login."""

from aggregator.web.app import WebConfig, create_app
from aggregator.web.data import Figures

__all__ = ["Figures", "WebConfig", "create_app"]
