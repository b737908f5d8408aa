-- wrk: POST one district as JSON to the path given in the URL
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"longitude": -122.23, "latitude": 37.88, "housing_median_age": 41.0, "total_rooms": 880.0, "total_bedrooms": 129.0, "population": 322.0, "households": 126.0, "median_income": 8.3252, "ocean_proximity": "NEAR BAY"}'
