"""drf-spectacular's schema class and postprocessing hook for the API: every
operation documents its success and the errors it can answer. Kept apart from
clinic/schema.py, whose views drf-spectacular imports while it reads
DEFAULT_SCHEMA_CLASS."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

DESCRIPTIONS = {
    400: "invalid (fields says which) or not_bookable",
    401: "not_authenticated: no valid, unrevoked token or session",
    403: "permission_denied: the role may not do this",
    404: "not_found: unknown id, or an object the caller may not know exists",
    405: "method_not_allowed",
    409: "slot_unavailable, cancellation_window_passed or invalid_state",
    413: "too_large: the body is over the size limit (photos: 10 MB), refused before it is read",
    415: "unsupported_media_type",
    422: "contraindicated: every screening finding in reasons",
    429: "throttled",
    503: "payment_unavailable: the online payment provider could not start the deposit; nothing was held",
}


class ClinicAutoSchema(AutoSchema):
    """Every operation documents its success response, even when its
    ``extend_schema(responses=...)`` names only errors (drf-spectacular then
    drops the default one): the view's own serializer, 201 for a create."""

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        if not any(str(code).startswith("2") for code in responses):
            if self.method == "DELETE":
                responses["204"] = {"description": "No response body"}
            else:
                code = "201" if self._is_create_operation() else "200"
                responses[code] = self._get_response_for_code(self._get_serializer(), code, direction=direction)
        return responses


_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_WRITES = {"post", "put", "patch"}


def add_standard_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the errors any operation can answer
    whatever its view says, from what the operation looks like, so no view
    repeats them (a view may still name them, with its own description):
    400 with a body or query parameters; 401 with a security scheme (a bad token
    is refused even where signing in is optional); 403 where signing in is
    required (the role, or CSRF for a session); 404 with a path parameter or
    a page number;
    413 and 415 with a body (clinic.middleware.BodyLimitMiddleware, the parsers)."""
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            security = operation.get("security", [])
            has_body = "requestBody" in operation or method in _WRITES
            statuses = set()
            if has_body or any(p.get("in") == "query" for p in parameters):
                statuses.add(400)
            if any(requirement for requirement in security):
                statuses.add(401)
                if {} not in security:
                    statuses.add(403)
            if any(p.get("in") == "path" or p.get("name") == "page" for p in parameters):
                statuses.add(404)  # unknown id, or a page past the last
            if has_body:
                statuses |= {413, 415}
            for status in sorted(statuses):
                responses.setdefault(
                    str(status),
                    {
                        "description": DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": _ERROR_REF}},
                    },
                )
            operation["responses"] = dict(sorted(responses.items()))
    return result
