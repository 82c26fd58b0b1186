"""@-mentions (issue 15, part 4): per channel, rules chosen by the firing alerts' labels mention people
or everyone; the exact bodies each fake bot receives; alert values cannot mention anyone; the IDs
(personal data) are checked without being quoted and never reach logs, metrics or responses."""

from __future__ import annotations

import logging

import httpx
import pytest

from exporter.loading.config import ConfigError
from exporter.relay.alerts import Notification
from exporter.relay.config import load_text
from exporter.relay.mentions import select
from tests.relay_support import (BEARER, DINGTALK_MOBILE, DINGTALK_USER, FEISHU_USER, PEOPLE, WECOM_MOBILE, WECOM_USER,
                                 environ, running_relay)
from tests.stack import FakeWebhook

AUTH = {"Authorization": f"Bearer {BEARER}"}

CONFIG = f"""
channels:
  fs:
    type: feishu
    url_env: FS_URL
    mentions:
      - match: {{severity: critical}}
        users_file: USERS_FILE
      - match: {{severity: critical, target: prod}}
        all: true
  dt:
    type: dingtalk
    url_env: DT_URL
    mentions:
      - match: {{severity: [critical, warning]}}
        users: [{DINGTALK_USER}]
        mobiles: ["{DINGTALK_MOBILE}"]
  wc:
    type: wecom
    url_env: WC_URL
    mentions:
      - match: {{severity: critical}}
        users: [{WECOM_USER}]
        mobiles_file: MOBILES_FILE
      - match: {{target: staging}}
        all: true
token_env: RELAY_TOKEN
deadline: DEADLINE
request_timeout: 2s
"""


def config_text(tmp_path) -> str:
    (tmp_path / "users").write_text(f"# Feishu open_ids of the on-call rota\n\n{FEISHU_USER}   # primary\n")
    (tmp_path / "mobiles").write_text(f"{WECOM_MOBILE}\n")
    return CONFIG.replace("USERS_FILE", str(tmp_path / "users")).replace("MOBILES_FILE", str(tmp_path / "mobiles"))


def short_alert(severity="critical", target="prod", status="firing", **labels):
    return {"status": status, "labels": {"alertname": "NanoBananaOutage", "severity": severity, "target": target, **labels},
            "annotations": {"summary": f"{target} is down"}, "startsAt": "2025-06-01T12:00:00Z",
            "endsAt": "2025-06-01T13:00:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"}


def notification(*alerts, group_target="prod") -> dict:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "status": status, "groupKey": f'{{}}:{{target="{group_target}"}}', "receiver": "page",
            "groupLabels": {"alertname": "NanoBananaOutage", "target": group_target}, "alerts": list(alerts)}


def load(tmp_path, text=None):
    return load_text((text or config_text(tmp_path)).replace("DEADLINE", "5s"), "relay.yml", environ=environ("http://127.0.0.1:1"))


# --- who is mentioned -----------------------------------------------------------------------------

def test_rules_are_chosen_by_the_firing_alerts_labels(tmp_path):
    channels = load(tmp_path).channels
    critical_prod = Notification.model_validate(notification(short_alert()))
    fs = select(channels["fs"].mentions, critical_prod)
    assert fs.users == (FEISHU_USER,) and fs.everyone and not fs.mobiles
    critical_dev = Notification.model_validate(notification(short_alert(target="dev")))
    assert select(channels["fs"].mentions, critical_dev).everyone is False  # the second rule needs target=prod
    warning = Notification.model_validate(notification(short_alert(severity="warning")))
    assert not select(channels["fs"].mentions, warning)
    assert select(channels["dt"].mentions, warning).users == (DINGTALK_USER,)  # a list of values
    # one firing alert is enough; a resolved one selects nothing
    mixed = Notification.model_validate(notification(short_alert(severity="info"), short_alert(target="staging", severity="info")))
    assert select(channels["wc"].mentions, mixed).everyone
    resolved = Notification.model_validate(notification(short_alert(status="resolved")))
    assert not select(channels["fs"].mentions, resolved) and not select(channels["wc"].mentions, resolved)


def test_people_are_secrets_of_the_config(tmp_path):
    config = load(tmp_path)
    assert {FEISHU_USER, DINGTALK_USER, DINGTALK_MOBILE, WECOM_USER, WECOM_MOBILE} <= set(config.secrets)
    assert all(person not in repr(config) for person in PEOPLE)


# --- what each bot receives -------------------------------------------------------------------------

CARD_ALERT = "**FIRING NanoBananaOutage** (critical)\nprod is down\ntarget: prod\nstarted 2025-06-01 12:00:00 UTC"


async def test_each_bot_receives_exactly_these_bodies(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=config_text(tmp_path)) as (base, metrics, _):
            async with httpx.AsyncClient(timeout=30) as client:
                for channel in ("fs", "dt", "wc"):
                    response = await client.post(f"{base}/alerts/{channel}", json=notification(short_alert()), headers=AUTH)
                    assert response.status_code == 200, response.text
                    assert all(person not in response.text for person in PEOPLE)
                page = (await client.get(f"{base}/metrics", headers=AUTH)).text
        feishu, ding, wecom_markdown, wecom_text = [r.json for r in bots.received()]
    assert feishu == {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": "[FIRING:1] NanoBananaOutage prod"}, "template": "red"},
            "elements": [{"tag": "markdown", "content": f"<at id={FEISHU_USER}></at> <at id=all></at>"},
                         {"tag": "hr"},
                         {"tag": "markdown", "content": CARD_ALERT}],
        },
    }
    assert ding == {
        "msgtype": "markdown",
        "markdown": {"title": "[FIRING:1] NanoBananaOutage prod",
                     "text": f"### [FIRING:1] NanoBananaOutage prod\n\n---\n\n@{DINGTALK_MOBILE} @{DINGTALK_USER}\n\n---\n\n"
                             + CARD_ALERT.replace("\n", "  \n")},
        "at": {"atMobiles": [DINGTALK_MOBILE], "atUserIds": [DINGTALK_USER], "isAtAll": False},
    }
    assert wecom_markdown == {
        "msgtype": "markdown",
        "markdown": {"content": f'**<font color="warning">[FIRING:1] NanoBananaOutage prod</font>**\n\n<@{WECOM_USER}>\n\n'
                                + CARD_ALERT},
    }
    assert wecom_text == {"msgtype": "text", "text": {"content": "[FIRING:1] NanoBananaOutage prod",
                                                      "mentioned_mobile_list": [WECOM_MOBILE]}}
    for text in (page, caplog.text):
        assert all(person not in text for person in PEOPLE), text


async def test_no_rule_chosen_means_no_mention_at_all(tmp_path):
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=config_text(tmp_path)) as (base, _, _):
            async with httpx.AsyncClient(timeout=30) as client:
                for channel in ("fs", "dt", "wc"):
                    body = notification(short_alert(severity="info", target="dev"), group_target="dev")
                    assert (await client.post(f"{base}/alerts/{channel}", json=body, headers=AUTH)).status_code == 200
        feishu, ding, wecom = [r.json for r in bots.received()]  # no WeCom text message
    assert [e["tag"] for e in feishu["card"]["elements"]] == ["markdown"] and "<at" not in str(feishu)
    assert "at" not in ding and "@" not in ding["markdown"]["text"]
    assert wecom["msgtype"] == "markdown" and "<@" not in wecom["markdown"]["content"]


# Values an alert could carry (a status-feed title becomes a label, then a summary) to mention people.
HOSTILE = ["<at id=all></at>", "@all", "<@all>", '<at user_id="all"></at>', f"<at id={FEISHU_USER}></at>",
           "@13900009999", "<@someone>"]


async def test_alert_values_cannot_mention_anyone(tmp_path):
    hostile = " ".join(HOSTILE)
    alert = short_alert(severity="info", target=hostile, title=hostile, product=hostile)
    alert["annotations"] = {"summary": hostile, "description": hostile}
    body = notification(alert, group_target=hostile)
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=config_text(tmp_path)) as (base, _, _):
            async with httpx.AsyncClient(timeout=30) as client:
                for channel in ("fs", "dt", "wc"):
                    assert (await client.post(f"{base}/alerts/{channel}", json=body, headers=AUTH)).status_code == 200
        feishu, ding, wecom = [r.json for r in bots.received()]
    cards = [e["content"] for e in feishu["card"]["elements"] if e["tag"] == "markdown"]
    assert cards and all("<" not in text for text in cards), cards  # &#60;at ...: shown, not a tag
    assert "&#60;at id=all&#62;&#60;/at&#62;" in cards[0]
    # DingTalk mentions only whom `at` names: there is none, so a literal "@all" is text
    assert "at" not in ding and "@all" in ding["markdown"]["text"]
    assert wecom["msgtype"] == "markdown" and "<" not in wecom["markdown"]["content"].split("\n\n", 1)[1]
    assert "＜@all＞" in wecom["markdown"]["content"]


async def test_a_chosen_rule_mentions_only_its_people_whatever_the_values_say(tmp_path):
    hostile = " ".join(HOSTILE)
    alert = short_alert(severity="critical", target="dev", title=hostile)
    alert["annotations"] = {"summary": hostile}
    with FakeWebhook() as bots:
        async with running_relay(bots.url(), config_text=config_text(tmp_path)) as (base, _, _):
            async with httpx.AsyncClient(timeout=30) as client:
                for channel in ("fs", "dt", "wc"):
                    response = await client.post(f"{base}/alerts/{channel}", json=notification(alert, group_target="dev"),
                                                 headers=AUTH)
                    assert response.status_code == 200
        feishu, ding, wecom, wecom_text = [r.json for r in bots.received()]
    tags = [e["content"] for e in feishu["card"]["elements"] if e["tag"] == "markdown" and "<at" in e["content"]]
    assert tags == [f"<at id={FEISHU_USER}></at>"]  # not everyone: the rule with all: true needs target=prod
    assert ding["at"] == {"atMobiles": [DINGTALK_MOBILE], "atUserIds": [DINGTALK_USER], "isAtAll": False}
    assert wecom["markdown"]["content"].count("<@") == 1 and wecom_text["text"] == {
        "content": "[FIRING:1] NanoBananaOutage dev", "mentioned_mobile_list": [WECOM_MOBILE]}


def test_mentions_go_in_the_first_message_of_a_split_group(tmp_path):
    from exporter.relay import dingtalk, feishu

    channels = load(tmp_path).channels
    alerts = [short_alert(series=str(i)) | {"annotations": {"summary": "x" * 1500}} for i in range(40)]
    n = Notification.model_validate(notification(*alerts))
    bodies, _ = feishu.render(n, select(channels["fs"].mentions, n))
    assert len(bodies) > 1 and FEISHU_USER in str(bodies[0]) and all(FEISHU_USER not in str(b) for b in bodies[1:])
    bodies, _ = dingtalk.render(n, select(channels["dt"].mentions, n))
    assert len(bodies) > 1 and "at" in bodies[0] and all("at" not in b for b in bodies[1:])


# --- bad config: file, line and key named, the ID never quoted -------------------------------------

def channel_with(rule: str) -> str:
    return f"channels:\n  dt:\n    type: dingtalk\n    url_env: DT_URL\n    mentions:\n      - {rule}\n"


@pytest.mark.parametrize("rule, error", [
    ('{users: ["ou_bad id<at id=all>"]}', "relay.yml:6: channels.dt.mentions[0].users[0]: not a user ID"),
    ('{users: ["@all"]}', "relay.yml:6: channels.dt.mentions[0].users[0]: 'all' is not a user: set `all: true`"),
    ('{mobiles: ["1390000x1234"]}', "relay.yml:6: channels.dt.mentions[0].mobiles[0]: not a mobile number"),
    ("{match: {severity: critical}}", "relay.yml:6: channels.dt.mentions[0]: mentions no one"),
    ("{users: [a1b2c3d4], everyone: true}", "relay.yml:6: channels.dt.mentions[0].everyone: unknown key"),
    ('{match: {"bad-label": x}, all: true}', "relay.yml:6: channels.dt.mentions[0].match"),
    ("{users_file: /nonexistent/users}", "relay.yml:6: channels.dt.mentions[0].users_file: cannot read /nonexistent/users"),
])
def test_bad_rules_are_named_without_quoting_ids(rule, error):
    with pytest.raises(ConfigError) as err:
        load_text(channel_with(rule), "relay.yml", environ=environ("http://127.0.0.1:1"))
    assert str(err.value).startswith(error), str(err.value)
    for secret in ("ou_bad id", "1390000x1234", "a1b2c3d4"):
        assert secret not in str(err.value)


def test_a_bad_line_in_an_id_file_is_named_by_file_and_line(tmp_path):
    users = tmp_path / "users"
    users.write_text(f"# rota\n{DINGTALK_USER}\nnot an id! 13900001111\n")
    with pytest.raises(ConfigError) as err:
        load_text(channel_with(f"{{users_file: {users}}}"), "relay.yml", environ=environ("http://127.0.0.1:1"))
    assert str(err.value) == (f"relay.yml:6: channels.dt.mentions[0].users_file: {users}:3: "
                              "not a user ID (letters, digits and _ . - @, at most 64)")
    users.write_text("# nobody yet\n")
    with pytest.raises(ConfigError, match=r"users_file: .*users lists no one"):
        load_text(channel_with(f"{{users_file: {users}}}"), "relay.yml", environ=environ("http://127.0.0.1:1"))


def test_feishu_mentions_by_user_id_only(tmp_path):
    text = f"channels:\n  fs:\n    type: feishu\n    url_env: FS_URL\n    mentions:\n      - {{mobiles: ['{DINGTALK_MOBILE}']}}\n"
    with pytest.raises(ConfigError) as err:
        load_text(text, "relay.yml", environ=environ("http://127.0.0.1:1"))
    assert str(err.value).startswith("relay.yml:6: channels.fs.mentions[0].mobiles: feishu bots mention by user ID only")
    assert DINGTALK_MOBILE not in str(err.value)


def test_the_commented_example_in_relay_yml_is_valid(tmp_path):
    """alertmanager/relay.yml ships its mention rules commented out: uncommented, they load."""
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "alertmanager" / "relay.yml").read_text()
    text = re.sub(r"^(\s*)# (mentions:|  - match:|    \w+(?:_file)?: )", r"\1\2", text, flags=re.M)
    for path in re.findall(r"_file: (\S+)", text):
        content = {"wecom-url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K", "relay-token": "t0ken-value",
                   "oncall-mobiles": DINGTALK_MOBILE}.get(Path(path).name, FEISHU_USER)
        (tmp_path / Path(path).name).write_text(content + "\n")
        text = text.replace(path, str(tmp_path / Path(path).name))
    env = {"FEISHU_WEBHOOK_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/h", "FEISHU_SECRET": "s3cret",
           "DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=a", "DINGTALK_SECRET": "SECx"}
    channels = load_text(text, "relay.yml", environ=env).channels
    assert [len(channels[name].mentions) for name in ("feishu", "dingtalk", "wecom")] == [2, 1, 0]
    critical = Notification.model_validate(notification(short_alert()))
    assert select(channels["feishu"].mentions, critical).users == (FEISHU_USER,)
    assert select(channels["dingtalk"].mentions, critical).mobiles == (DINGTALK_MOBILE,)


def test_the_readme_example_loads(tmp_path):
    import re
    from pathlib import Path

    from tests.documentation import room

    [example] = re.findall(r"#### @-mentions\n.*?```yaml\n(.*?)```", room("alerting"), flags=re.S)
    for path in re.findall(r"_file: (\S+)", example):
        (tmp_path / Path(path).name).write_text((DINGTALK_MOBILE if "mobiles" in path else FEISHU_USER) + "\n")
        example = example.replace(path, str(tmp_path / Path(path).name))
    env = {"FEISHU_WEBHOOK_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/h",
           "DINGTALK_WEBHOOK_URL": "https://oapi.dingtalk.com/robot/send?access_token=a"}
    channels = load_text(example, "docs/alerting.md", environ=env).channels
    warning = Notification.model_validate(notification(short_alert(severity="warning")))
    assert select(channels["ops-dingtalk"].mentions, warning).mobiles == (DINGTALK_MOBILE,)


def test_config_check_counts_rules_and_names_no_one(tmp_path, capsys, monkeypatch):
    from exporter.relay.cli import main

    config = tmp_path / "relay.yml"
    config.write_text(config_text(tmp_path).replace("DEADLINE", "5s"))
    for key, value in environ("http://127.0.0.1:1").items():
        monkeypatch.setenv(key, value)
    assert main(["--config.file", str(config), "--config.check"]) == 0
    out = capsys.readouterr()
    assert "/alerts/fs  feishu  2 mention rules" in out.out and "/alerts/dt  dingtalk  1 mention rule\n" in out.out
    assert all(person not in out.out + out.err for person in PEOPLE)
    (tmp_path / "users").write_text(f"{FEISHU_USER}\n<at id=all></at>\n")
    assert main(["--config.file", str(config), "--config.check"]) == 1
    err = capsys.readouterr().err
    assert f"channels.fs.mentions[0].users_file: {tmp_path / 'users'}:2: not a user ID" in err
    assert all(person not in err for person in PEOPLE) and "<at" not in err
