"""HTTP pieces shared by the predictor and the gateway (FastAPI/Starlette only: no ML imports)."""
