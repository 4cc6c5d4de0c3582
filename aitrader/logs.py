"""structlog set-up: JSON lines for services, a readable console renderer for a terminal."""

from __future__ import annotations

import logging
import sys

import structlog


class _Stderr:
    """Whatever sys.stderr is when a line is written, not when logging was configured (a
    command run in-process by a test under capsys must not leave loggers writing to its
    closed capture)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(*, json: bool | None = None, level: str = "INFO",
              process: str | None = None) -> None:
    """`process` names the process in every line (the tool servers share the container's
    log stream with the API)."""
    if json is None:
        json = not sys.stderr.isatty()
    named: list[structlog.typing.Processor] = [] if process is None else [
        lambda _logger, _name, event: {"process": process, **event}]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *named,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    # Libraries log through the standard library: warnings and errors only (the MCP SDK logs
    # every request at INFO, which is noise and costs time on the tool-call path).
    logging.basicConfig(level=logging.WARNING, stream=_Stderr(),
                        format=(f"{process} " if process else "")
                        + "%(levelname)s %(name)s %(message)s")
