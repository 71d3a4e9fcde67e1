"""EMAIL_HOST_PASSWORD_FILE names a small regular file, or a symlink to one (a Docker or
systemd credential). A FIFO or /dev/zero would hang the start for ever (the whole "file" was
read), a directory or a big file is a wrong path, a file of several lines would be sent
whole as the password: each is refused naming the variable, never showing the content."""

from __future__ import annotations

import os

import pytest

from swapadmin.env import SettingError
from swapadmin.mailsettings import email_settings


def settings_with(path) -> dict:
    return email_settings({"EMAIL_HOST": "relay", "EMAIL_HOST_PASSWORD_FILE": str(path)})


def test_a_symlink_to_a_password_file_is_read(tmp_path):
    (tmp_path / "pw").write_text("hunter2\n")
    (tmp_path / "link").symlink_to(tmp_path / "pw")
    assert settings_with(tmp_path / "link")["EMAIL_HOST_PASSWORD"] == "hunter2"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(SettingError, match="EMAIL_HOST_PASSWORD_FILE.*not a regular file"):
        settings_with(tmp_path / "fifo")


@pytest.mark.parametrize("path", ["/dev/zero", "/"])
def test_a_device_or_a_directory_is_refused(path):
    with pytest.raises(SettingError, match="EMAIL_HOST_PASSWORD_FILE.*not a regular file"):
        settings_with(path)


def test_a_big_file_is_refused(tmp_path):
    (tmp_path / "log").write_text("hunter2" * 100_000)
    with pytest.raises(SettingError) as e:
        settings_with(tmp_path / "log")
    assert "EMAIL_HOST_PASSWORD_FILE" in str(e.value) and "hunter2" not in str(e.value)


def test_a_file_of_several_lines_is_refused(tmp_path):
    (tmp_path / "pw").write_text("hunter2\nsecond line\n")
    with pytest.raises(SettingError) as e:
        settings_with(tmp_path / "pw")
    assert "more than one line" in str(e.value) and "hunter2" not in str(e.value)
