pytest_plugins = ["tests.fixtures.host"]
