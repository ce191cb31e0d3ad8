"""Waiting on ``google.longrunning`` operations of the GAPIC REST clients (Vertex AI,
Workbench), with a deadline, their errors raised as ``engine.errors``.

Measured (google-cloud-aiplatform 2.7.0, google-cloud-notebooks 1.18.0, api-core 2.44.0):
an operations client parses the whole ``Operation`` strictly (``json_format.Parse(...,
ignore_unknown_fields=False)`` in ``api_core.operations_v1`` and in the clients'
``get_operation`` mixins), so a done operation whose response carries a field this client
version does not know raises ``json_format.ParseError`` although the call succeeded (the
notebooks v2 discovery already documents ``GceSetup`` fields the 1.18.0 client lacks); reads
(``get``/``list``) ignore unknown fields. So an operation is only asked whether it is done
and how it failed; the kind then reads the resource.
"""

from __future__ import annotations

from typing import Any

from mlops_infra.engine import errors
from mlops_infra.engine.waiting import wait_until_done
from mlops_infra.kinds._base import CALL, translate_errors

# google.rpc.Code of a failed operation -> how the engine treats it
_ERRORS: dict[int, type[errors.ApiError]] = {
    4: errors.TransientError, 8: errors.TransientError, 10: errors.TransientError,
    13: errors.TransientError, 14: errors.TransientError, 5: errors.NotFound, 6: errors.Conflict}


def wait(ops_client: Any, operation: Any, *, what: str, deadline: float) -> None:
    """Wait until ``operation`` (a ``google.longrunning.Operation`` message) is done, polling
    ``ops_client``; raise its error as an ``engine.errors`` class."""
    if operation.done:
        raise_error(operation, what)
        return
    name = operation.name
    done = wait_until_done(lambda: _poll(ops_client, name, what), what=f"{what}: operation {name}",
                           deadline=deadline)
    if done is not True:
        raise_error(done, what)


def _poll(ops_client: Any, name: str, what: str) -> Any:
    from google.protobuf import json_format

    try:
        with translate_errors(f"{what}: operation {name}"):
            found = ops_client.get_operation(name, **CALL)
    except errors.TransientError:
        return None                 # a blip while polling: poll again until the deadline
    except json_format.ParseError:
        return True                 # done, with a response newer than this client (see above)
    return found if found.done else None


def raise_error(operation: Any, what: str) -> None:
    if operation.HasField("error") and operation.error.code:
        cls = _ERRORS.get(operation.error.code, errors.PermanentError)
        raise cls(f"{what}: {operation.error.message} (code {operation.error.code})")
