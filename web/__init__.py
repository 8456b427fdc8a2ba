"""The app's web layer: the JSON service behind every endpoint, the request guard, and one view module per tab."""
