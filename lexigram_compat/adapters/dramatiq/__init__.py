"""The Dramatiq engine (``engine: dramatiq``) on Redis and RabbitMQ.

Tasks become real Dramatiq actors on a broker the app builds, with all its
middleware, when it is constructed; operators run ``dramatiq <module>`` on the
module that builds the app. See ``docs/engines/dramatiq.md``.
"""

from __future__ import annotations

from .engine import DramatiqEngine
from .rabbitmq import DramatiqRabbitmqEngine, StatelessRabbitmqEngine

__all__ = ["DramatiqEngine", "DramatiqRabbitmqEngine", "StatelessRabbitmqEngine"]
