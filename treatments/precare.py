"""Which pre-care instructions apply to a patient: a pure function of the
instruction's condition and the patient's newest health declaration
(docs/domain.md, Pre-care)."""

from __future__ import annotations

from typing import Any

from treatments.models import PreCareCondition


def applies(condition: str, declaration: Any | None) -> bool:
    """True when an instruction with ``condition`` is for this patient.

    Without a declaration the answer is unknown, and pre-care is safety
    information: a conditional instruction is sent rather than withheld (its
    wording says whom it is for)."""
    if condition == PreCareCondition.EVERYONE:
        return True
    if declaration is None:
        return True
    if condition == PreCareCondition.COLD_SORE_HISTORY:
        return bool(declaration.cold_sore_history or declaration.active_cold_sore)
    return True  # an unknown condition (a newer code than this function): send rather than withhold
