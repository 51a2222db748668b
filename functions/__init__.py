"""One module per deployed Lambda function's handlers; the logic they call is in chalicelib."""
