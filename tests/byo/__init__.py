"""Lightning code in the usual shape, written as a user would, for the bring-your-own tests."""
