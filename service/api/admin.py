"""Admin routes (scope `admin` once API keys are configured)."""

from __future__ import annotations

from fastapi import APIRouter

from genrm_wire import RubricReloadResponse
from service.api.deps import State
from service.api.errors import ADMIN_ERRORS

router = APIRouter()


@router.post("/admin/rubrics/reload", response_model=RubricReloadResponse, responses=ADMIN_ERRORS)
async def reload_rubrics(state: State) -> RubricReloadResponse:
    """Load the rubric library again from its directory (as SIGHUP does). A library that fails validation is
    refused (422, naming the file and the field) and the old one stays in service."""
    reload = await state.rubric_store.reload()
    return RubricReloadResponse(library_hash=reload.library_hash, previous_hash=reload.previous_hash,
                                rubrics=reload.rubrics, added=reload.added, removed=reload.removed)
