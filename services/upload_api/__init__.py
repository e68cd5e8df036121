"""The upload API: FastAPI routes over core.ingest; uvicorn serves it locally, Mangum on Lambda."""
