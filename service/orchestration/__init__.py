"""Request orchestration, below the HTTP layer: resolve a parsed request (model, rubrics, sampling, limits,
deadline) into a judging context, charge the caller's quota and pass the model's admission, run the judges with
cancellation when the caller goes away, and count what happened. No FastAPI here: `service/api` turns HTTP into
calls of these (with the caller's key and a disconnect signal) and results back into wire models."""
