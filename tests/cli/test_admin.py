"""account / user / group / phone-number / token commands, and their error paths."""

from __future__ import annotations

import base64
from pathlib import Path

from click.testing import Result

from talkstats.store import SQLiteStore
from talkstats.store.urls import sqlite_path
from tests.cli.conftest import Run


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


def fails(result: Result, fragment: str) -> None:
    """Exit code 1, one line on stderr naming the problem, no traceback."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_account_create_and_list(run: Run, open_service) -> None:
    out = ok(
        run(
            "account",
            "create",
            "Acme",
            "--timezone",
            "America/New_York",
            "--plan",
            "team",
            "--admin-email",
            "boss@acme.test",
            "--admin-password",
            "pw",
        )
    )
    assert "created account acme" in out
    ok(
        run(
            "account",
            "create",
            "globex",
            "--timezone",
            "Europe/Paris",
            "--plan",
            "enterprise",
            "--admin-email",
            "boss@globex.test",
            "--admin-password",
            "pw",
        )
    )
    listing = ok(run("account", "list")).splitlines()
    assert listing[0].split() == ["ID", "SUBDOMAIN", "TIMEZONE", "PLAN"]
    assert listing[1].split() == ["1", "acme", "America/New_York", "team"]
    assert listing[2].split() == ["2", "globex", "Europe/Paris", "enterprise"]
    with open_service() as service:
        account = service.account("acme")
        assert account is not None
        header = "Basic " + base64.b64encode(b"boss@acme.test:pw").decode()
        admin = service.authenticate(account, header)
        assert admin is not None and admin.role == "admin"


def test_account_list_empty(run: Run, database: str) -> None:
    SQLiteStore(sqlite_path(database), create=True).close()  # a database with no account
    result = run("account", "list")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no accounts" in result.stderr


def test_commands_that_do_not_create_accounts_do_not_create_a_database(
    run: Run, database: str
) -> None:
    for args in (
        ("account", "list"),
        ("group", "create", "--name", "Sales"),
        ("phone-number", "create", "--number", "+1555", "--name", "x"),
    ):
        fails(run(*args), "does not exist; create it with `talkstats account create")
    assert not Path(sqlite_path(database)).exists()


def test_a_refused_account_creates_no_database(run: Run, database: str) -> None:
    base = ("--plan", "team", "--admin-email", "a@b.test", "--admin-password", "pw")
    fails(run("account", "create", "zz", "--timezone", "Nowhere/X", *base), "Nowhere/X")
    fails(run("account", "create", "bad.name", "--timezone", "UTC", *base), "subdomain")
    assert not Path(sqlite_path(database)).exists()
    refused = run("account", "list")
    fails(refused, "--plan PLAN --admin-email EMAIL")  # the hint can be followed as written


def test_account_create_errors(run: Run, acme: str) -> None:
    base = ("--plan", "team", "--admin-email", "a@b.test", "--admin-password", "pw")
    fails(run("account", "create", "acme", "--timezone", "UTC", *base), "acme")
    fails(run("account", "create", "other", "--timezone", "Mars/Olympus", *base), "Mars/Olympus")
    fails(run("account", "create", "bad.name", "--timezone", "UTC", *base), "subdomain")
    usage = run(
        "account",
        "create",
        "x",
        "--timezone",
        "UTC",
        "--plan",
        "gold",
        "--admin-email",
        "a@b.test",
        "--admin-password",
        "pw",
    )
    assert usage.exit_code == 2  # click's usage error: not one of the plans
    assert "gold" in usage.stderr


def test_admin_password_from_environment(run: Run, open_service) -> None:
    ok(
        run(
            "account",
            "create",
            "acme",
            "--timezone",
            "UTC",
            "--plan",
            "team",
            "--admin-email",
            "boss@acme.test",
            env={"TALKSTATS_ADMIN_PASSWORD": "from-env"},
        )
    )
    with open_service() as service:
        account = service.account("acme")
        assert account is not None
        header = "Basic " + base64.b64encode(b"boss@acme.test:from-env").decode()
        assert service.authenticate(account, header) is not None


def test_admin_password_required_off_a_terminal(run: Run) -> None:
    fails(
        run(
            "account",
            "create",
            "acme",
            "--timezone",
            "UTC",
            "--plan",
            "team",
            "--admin-email",
            "boss@acme.test",
        ),
        "TALKSTATS_ADMIN_PASSWORD",
    )


def test_user_create(run: Run, acme: str, open_service) -> None:
    out = ok(
        run(
            "user",
            "create",
            "--account",
            "acme",
            "--name",
            "Bob",
            "--email",
            "bob@acme.test",
            "--role",
            "agent",
            "--password",
            "bobpw",
        )
    )
    assert out.strip() == "created user 8 Bob <bob@acme.test> (agent)"  # max id 7, +1
    ok(
        run(
            "user",
            "create",
            "--account",
            "ACME",
            "--name",
            "Eve",
            "--email",
            "eve@acme.test",
            "--role",
            "end-user",
            "--id",
            "100",
        )
    )
    with open_service() as service:
        account = service.account("acme")
        assert account is not None
        users = {u.id: u for u in service.store.list_users(account.id)}
        assert users[7].name == "Ann" and users[7].role == "agent"
        assert users[100].role == "end-user"
        header = "Basic " + base64.b64encode(b"bob@acme.test:bobpw").decode()
        assert service.authenticate(account, header) == users[8]


def test_user_create_errors(run: Run, acme: str) -> None:
    fails(
        run(
            "user",
            "create",
            "--account",
            "acme",
            "--name",
            "Ann2",
            "--email",
            "ANN@acme.test",
            "--role",
            "agent",
        ),
        "already used",
    )
    fails(
        run(
            "user",
            "create",
            "--account",
            "acme",
            "--name",
            "X",
            "--email",
            "x@acme.test",
            "--role",
            "agent",
            "--id",
            "7",
        ),
        "7",
    )
    fails(
        run(
            "user",
            "create",
            "--account",
            "nope",
            "--name",
            "X",
            "--email",
            "x@acme.test",
            "--role",
            "agent",
        ),
        "no account with subdomain 'nope'",
    )
    usage = run(
        "user",
        "create",
        "--account",
        "acme",
        "--name",
        "X",
        "--email",
        "x@acme.test",
        "--role",
        "boss",
    )
    assert usage.exit_code == 2


def test_default_account(run: Run, acme: str) -> None:
    # one account: --account may be left out
    ok(run("user", "create", "--name", "Bob", "--email", "bob@acme.test", "--role", "agent"))
    ok(
        run(
            "account",
            "create",
            "globex",
            "--timezone",
            "UTC",
            "--plan",
            "team",
            "--admin-email",
            "a@globex.test",
            "--admin-password",
            "pw",
        )
    )
    # two accounts: it must be given, or named by TALKSTATS_DEFAULT_ACCOUNT
    fails(run("group", "create", "--name", "Sales"), "--account")
    out = ok(run("group", "create", "--name", "Sales", env={"TALKSTATS_DEFAULT_ACCOUNT": "globex"}))
    assert out.strip() == "created group 1 Sales"  # globex's first group, not acme's 6th


def test_no_account_at_all(run: Run, database: str) -> None:
    SQLiteStore(sqlite_path(database), create=True).close()
    fails(run("group", "create", "--name", "Sales"), "no accounts yet")


def test_group_and_membership(run: Run, acme: str, open_service) -> None:
    assert ok(run("group", "create", "--account", "acme", "--name", "Sales")).strip() == (
        "created group 6 Sales"
    )
    out = ok(run("group", "add-member", "--account", "acme", "--group", "6", "--user", "7"))
    assert "added user 7 to group 6" in out
    with open_service() as service:
        account = service.account("acme")
        assert account is not None
        pairs = {(m.group_id, m.user_id) for m in service.store.list_memberships(account.id)}
        assert pairs == {(5, 7), (6, 7)}


def test_group_errors(run: Run, acme: str) -> None:
    fails(run("group", "create", "--account", "acme", "--id", "5", "--name", "Again"), "5")
    fails(run("group", "add-member", "--account", "acme", "--group", "99", "--user", "7"), "99")
    fails(run("group", "add-member", "--account", "acme", "--group", "5", "--user", "99"), "99")
    fails(run("group", "add-member", "--account", "acme", "--group", "5", "--user", "7"), "")
    ok(
        run(
            "user",
            "create",
            "--account",
            "acme",
            "--name",
            "Eve",
            "--email",
            "eve@acme.test",
            "--role",
            "end-user",
            "--id",
            "50",
        )
    )
    fails(
        run("group", "add-member", "--account", "acme", "--group", "5", "--user", "50"),
        "only agents",
    )


def test_phone_number(run: Run, acme: str) -> None:
    out = ok(
        run(
            "phone-number",
            "create",
            "--account",
            "acme",
            "--number",
            "+33100000004",
            "--name",
            "Sales line",
        )
    )
    assert out.strip() == "created phone number 4 +33100000004 (Sales line)"
    fails(
        run(
            "phone-number",
            "create",
            "--account",
            "acme",
            "--id",
            "3",
            "--number",
            "+1",
            "--name",
            "Dup",
        ),
        "3",
    )
    usage = run(
        "phone-number",
        "create",
        "--account",
        "acme",
        "--id",
        "0",
        "--number",
        "+1",
        "--name",
        "Zero",
    )
    assert usage.exit_code == 2


def test_phone_number_name_is_optional_as_over_http(run: Run, acme: str, open_service) -> None:
    out = ok(run("phone-number", "create", "--account", "acme", "--number", "+33100000009"))
    assert out.strip() == "created phone number 4 +33100000009"
    with open_service() as service:
        account = service.account("acme")
        made = [n for n in service.store.list_phone_numbers(account.id) if n.id == 4]
    assert made[0].name == ""  # what POST .../phone_numbers stores without a name


def test_errors_name_the_account_by_subdomain(run: Run, acme: str) -> None:
    fails(run("group", "create", "--account", "acme", "--id", "5", "--name", "Again"),
          "group id 5 already exists in account acme")  # fmt: skip
    fails(run("group", "add-member", "--account", "acme", "--group", "5", "--user", "99"),
          "user 99 not found in account acme")  # fmt: skip
    fails(run("group", "add-member", "--account", "acme", "--group", "5", "--user", "7"),
          "user 7 is already a member of group 5 in account acme")  # fmt: skip


def test_token_create_prints_a_working_token_once(run: Run, acme: str, open_service) -> None:
    result = run(
        "token",
        "create",
        "--account",
        "acme",
        "--email",
        "admin@acme.test",
        "--description",
        "connector",
    )
    token = ok(result).strip()
    assert len(token.splitlines()) == 1 and len(token) >= 20
    assert "not shown again" in result.stderr
    with open_service() as service:
        account = service.account("acme")
        assert account is not None
        header = "Basic " + base64.b64encode(f"admin@acme.test/token:{token}".encode()).decode()
        user = service.authenticate(account, header)
        assert user is not None and user.email == "admin@acme.test"
        [record] = service.store.list_api_tokens(account.id, user.id)
        assert record.description == "connector"
        assert token not in record.token_hash


def test_token_create_errors(run: Run, acme: str) -> None:
    fails(run("token", "create", "--account", "acme", "--email", "who@acme.test"), "who@acme.test")
    fails(run("token", "create", "--account", "zzz", "--email", "admin@acme.test"), "zzz")


def test_bad_database_url(run: Run) -> None:
    fails(
        run("account", "list", "--database", "postgres://db/x", database_flag=False),
        "postgres://db/x",
    )


def test_a_display_link_is_printed_whole_or_its_base_is_refused(run: Run, acme: str) -> None:
    made = ok(run("wallboard", "link", "create", "--base-url", "https://acme.example.com/"))
    assert made.startswith("https://acme.example.com/wallboard/link#")
    for bad in ("https://x/x?y#z", "javascript:alert(1)", "acme.example.com", "https://x/#"):
        refused = run("wallboard", "link", "create", "--base-url", bad)
        assert refused.exit_code == 2 and "--base-url" in refused.stderr, bad
