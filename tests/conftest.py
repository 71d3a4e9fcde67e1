pytest_plugins = [
    "tests.fixtures.host",
    "tests.fixtures.people",
    "tests.fixtures.workers",
    "tests.fixtures.faulty",
    "tests.fixtures.signing",
]
