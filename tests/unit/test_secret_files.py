import pytest

from housing.secret_files import SecretFileError, export_from_files


def test_a_file_backed_variable_is_read_from_its_file(tmp_path):
    secret = tmp_path / "pg"
    secret.write_text("s3cr3t-value\n")
    environ = {"POSTGRES_PASSWORD_FILE": str(secret)}
    assert export_from_files(environ) == ["POSTGRES_PASSWORD"]
    assert environ["POSTGRES_PASSWORD"] == "s3cr3t-value"  # noqa: S105 - a test value


def test_a_value_set_directly_wins_and_other_names_are_left_alone(tmp_path):
    secret = tmp_path / "pg"
    secret.write_text("from-file")
    environ = {"POSTGRES_PASSWORD": "direct", "POSTGRES_PASSWORD_FILE": str(secret)}
    environ["AWS_SHARED_CREDENTIALS_FILE"] = str(secret)  # boto3's own: not ours to read
    assert export_from_files(environ) == []
    assert environ["POSTGRES_PASSWORD"] == "direct"  # noqa: S105 - a test value
    assert "AWS_SHARED_CREDENTIALS" not in environ


@pytest.mark.parametrize("content", [None, ""])
def test_a_missing_or_empty_file_is_one_clear_error(tmp_path, content):
    secret = tmp_path / "pg"
    if content is not None:
        secret.write_text(content)
    with pytest.raises(SecretFileError, match="POSTGRES_PASSWORD_FILE="):
        export_from_files({"POSTGRES_PASSWORD_FILE": str(secret)})
