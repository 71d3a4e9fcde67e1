from tests.fixtures.faulty import make_faulty_device  # noqa: F401 (a fixture, used by name)
