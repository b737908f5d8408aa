"""The HTTP floor for `make bench`: reads the body, answers a constant."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> dict:
    await request.body()
    return {"predictions": [0.0]}


@app.get("/health/ready")
async def ready() -> dict:
    return {"status": "ready"}
