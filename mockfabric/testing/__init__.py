"""What users import in their tests: a real-socket server, the MockFabric handle and the pytest plugin."""
