"""Getting, checking and splitting the raw data set."""
