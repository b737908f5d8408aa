"""The HTTP floor for `make bench`: a FastAPI endpoint that reads the body and answers a constant."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> dict:
    await request.body()
    return {"predictions": [0.0]}


@app.get("/health/ready")
async def ready() -> dict:
    return {"status": "ready"}
