"""The organization page: members correct the facts, the 代表者 manages members and advisor consent,
advisors and staff only read, strangers get 404; a submitted application keeps its facts."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from conftest import Clock
from django.core import mail
from django.test import Client

from shien.accounts.models import AdvisorConsent, Invitation, Membership, Role, UserRole
from shien.applications import services
from shien.applications.selectors import applications_for
from shien.applications.tests.factories import MONOZUKURI_PLAN, organization, user
from shien.applications.tests.test_applicant_builders import AT
from shien.core.models import AuditLog
from shien.rules.registry import JST

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mail(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


FACTS = {"name": "広島精機株式会社", "prefecture": "広島県", "industry": "製造業", "employees": "30",
         "capital_yen": "10000000", "corporate_number": "", "invoice_number": ""}  # fmt: skip


@pytest.fixture
def world() -> dict[str, Any]:
    owner = user("owner@example.jp")
    org = organization(owner, name="広島精機株式会社")
    staff = user("staff@example.jp")
    Membership.objects.create(user=staff, organization=org, kind=Membership.Kind.MEMBER)
    advisor = user("advisor@example.jp", Role.ADVISOR)
    UserRole.objects.filter(user=advisor).update(affiliation="広島商工会議所")
    return {"owner": owner, "org": org, "staff": staff, "advisor": advisor}


def login(client: Client, who: Any) -> Client:
    client.force_login(who)
    return client


def test_who_sees_the_page_and_whose_contact_details(client: Client, world: dict[str, Any]) -> None:
    org, advisor = world["org"], world["advisor"]
    url = f"/organizations/{org.pk}/"
    assert login(client, user("stranger@example.jp")).get(url).status_code == 404
    assert login(client, user("reviewer@example.jp", Role.REVIEWER)).get(url).status_code == 404
    assert login(client, advisor).get(url).status_code == 404  # no consent yet
    AdvisorConsent.objects.create(organization=org, advisor=advisor, granted_by=world["owner"])
    page = login(client, advisor).get(url).content.decode()
    assert "広島精機株式会社" in page and "owner@example.jp" not in page  # an advisor: no member's email
    assert "広島商工会議所" in page and "事業者の情報を変更する" not in page
    office = user("office@example.jp", Role.SECRETARIAT)
    bureau = user("kyoku@example.jp", Role.BUREAU)
    for who in (office, bureau):  # staff see a business only through a submitted application
        assert login(client, who).get(url).status_code == 404
        assert login(client, who).get("/organizations/999999/").status_code == 404  # absent: the same
    app = services.application_create(actor=world["owner"], organization=org, program="monozukuri",
                                      frame="shoryokuka", plan=MONOZUKURI_PLAN)  # fmt: skip
    assert login(client, office).get(url).status_code == 404  # a draft is the business's own
    services.application_submit(actor=world["owner"], application=app, at=AT)
    for who in (office, bureau):
        page = login(client, who).get(url).content.decode()
        assert "広島精機株式会社" in page and "代表者" in page and "メンバーを招待" not in page
        assert "owner@example.jp" not in page and "staff@example.jp" not in page  # no contact details
    page = login(client, world["staff"]).get(url).content.decode()
    assert "owner@example.jp" in page and "事業者の情報を変更する" in page and "メンバーを招待" not in page
    page = login(client, world["owner"]).get(url).content.decode()
    assert "メンバーを招待" in page and "この支援者に同意する" in page
    assert f'href="{url}"' in client.get("/mypage/").content.decode()  # reached from マイページ


def test_members_correct_the_facts_with_an_audit_of_each_change(
    client: Client, world: dict[str, Any]
) -> None:
    org = world["org"]
    login(client, world["staff"])
    response = client.post(
        f"/organizations/{org.pk}/edit/", FACTS | {"employees": "45", "capital_yen": "たくさん"}
    )
    assert response.status_code == 400 and "150万 のように" in response.content.decode()  # typed values kept
    assert 'value="たくさん"' in response.content.decode()
    huge = client.post(  # far beyond any business: a Japanese message, not a database overflow (500)
        f"/organizations/{org.pk}/edit/",
        FACTS | {"employees": "99999999999999999999999", "capital_yen": "10000000000000000000"},
    )
    assert huge.status_code == 400
    assert (
        "1,000,000人以下" in huge.content.decode() and "1,000,000,000,000,000円以下" in huge.content.decode()
    )
    new = Client()
    new.force_login(world["owner"])
    registered = new.post("/organizations/new/", FACTS | {"name": "二号店", "capital_yen": "３０００万円"})
    assert registered.status_code == 302  # written as people write it
    assert (
        Membership.objects.get(user=world["owner"], organization__name="二号店").organization.capital_yen
        == 30_000_000
    )
    response = client.post(
        f"/organizations/{org.pk}/edit/", FACTS | {"employees": "45", "corporate_number": "5835678256246"}
    )
    assert response.status_code == 302
    org.refresh_from_db()
    assert (org.employees, org.corporate_number) == (45, "5835678256246")
    changed = AuditLog.objects.get(action="organization.update").data["changed"]
    assert changed == {"employees": [30, 45], "corporate_number": ["", "5835678256246"]}
    client.post(
        f"/organizations/{org.pk}/edit/", FACTS | {"employees": "45", "corporate_number": "5835678256246"}
    )
    assert (
        AuditLog.objects.filter(action="organization.update").count() == 1
    )  # nothing changed: nothing recorded
    bad = client.post(f"/organizations/{org.pk}/edit/", FACTS | {"corporate_number": "1234567890123"})
    assert bad.status_code == 400 and "チェックディジット" in bad.content.decode()
    advisor = world["advisor"]
    AdvisorConsent.objects.create(organization=org, advisor=advisor, granted_by=world["owner"])
    refused = login(client, advisor).post(f"/organizations/{org.pk}/edit/", FACTS | {"employees": "1"})
    assert refused.status_code == 403 and "代表者・担当者" in refused.content.decode()
    org.refresh_from_db()
    assert org.employees == 45


def test_the_owner_invites_and_removes_members_but_never_the_last_owner(
    client: Client, world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    org, owner = world["org"], world["owner"]
    newcomer = user("New.Comer@example.jp")
    newcomer.name = "新入 太郎"
    newcomer.save()
    login(client, owner)
    bad = client.post(f"/organizations/{org.pk}/members/", {"email": "not-an-address", "kind": "member"})
    assert bad.status_code == 422 and "形式" in bad.content.decode()  # invalid_input, as everywhere
    assert 'value="not-an-address"' in bad.content.decode()  # what was typed stays
    answers = []
    for address in ("nobody@example.jp", "new.comer@EXAMPLE.jp"):  # no account / an account
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                f"/organizations/{org.pk}/members/", {"email": address, "kind": "member"}, follow=True
            )
        answers.append(response.content.decode())
    # the same answer either way, and never the account holder's name: nobody is looked up by email
    assert "nobody@example.jp に担当者としての招待を送りました" in answers[0]
    assert (
        "new.comer@example.jp に担当者としての招待を送りました" in answers[1]
        and "新入 太郎" not in answers[1]
    )
    assert not Membership.objects.filter(organization=org, user=newcomer).exists()  # not before accepting
    assert [m.to for m in mail.outbox] == [["nobody@example.jp"], ["new.comer@example.jp"]]
    assert "利用登録すると" in mail.outbox[0].body and "/accounts/signup/" in mail.outbox[0].body
    again = client.post(
        f"/organizations/{org.pk}/members/", {"email": "new.comer@example.jp", "kind": "member"}
    )
    assert again.status_code == 302 and Invitation.objects.filter(email="new.comer@example.jp").count() == 1
    invitation = Invitation.objects.get(email="new.comer@example.jp")
    assert (
        login(client, user("stranger@example.jp"))
        .post(f"/organizations/invitations/{invitation.pk}/answer/", {"answer": "accept"})
        .url
        == "/mypage/"
    )  # someone else's invitation: nothing happens
    assert not Membership.objects.filter(organization=org, user__email="stranger@example.jp").exists()
    login(client, newcomer)
    assert "広島精機株式会社（広島県）から担当者としての招待" in client.get("/mypage/").content.decode()
    for _ in range(2):  # a double click: one membership, one audit row
        response = client.post(f"/organizations/invitations/{invitation.pk}/answer/", {"answer": "accept"})
    assert Membership.objects.filter(organization=org, user=newcomer, kind="member").count() == 1
    assert AuditLog.objects.filter(action="membership.add").count() == 1
    assert client.get(f"/organizations/{org.pk}/").status_code == 200  # now a member
    login(client, owner)
    own = Membership.objects.get(organization=org, user=owner)
    asked = client.post(f"/organizations/{org.pk}/members/{own.pk}/remove/")
    assert asked.status_code == 200 and "メンバーから外れますか" in asked.content.decode()
    last = client.post(f"/organizations/{org.pk}/members/{own.pk}/remove/", {"confirm": "1"})
    assert last.status_code == 409 and "代表者が1人だけ" in last.content.decode()
    theirs = Membership.objects.get(organization=org, user=newcomer)
    login(client, world["staff"])  # a 担当者 removes nobody but themself
    other = client.post(f"/organizations/{org.pk}/members/{theirs.pk}/remove/", {"confirm": "1"})
    assert other.status_code == 403 and Membership.objects.filter(pk=theirs.pk).exists()
    mine = Membership.objects.get(organization=org, user=world["staff"])
    assert (
        client.post(f"/organizations/{org.pk}/members/{mine.pk}/remove/", {"confirm": "1"}).url == "/mypage/"
    )
    assert client.get(f"/organizations/{org.pk}/").status_code == 404  # left: no longer sees it
    login(client, owner)
    assert (
        client.post(f"/organizations/{org.pk}/members/{theirs.pk}/remove/", {"confirm": "1"}).status_code
        == 302
    )
    again = client.post(f"/organizations/{org.pk}/members/{theirs.pk}/remove/", {"confirm": "1"})
    assert again.status_code == 302  # removed already: a message, not an error
    assert [a.data["user"] for a in AuditLog.objects.filter(action="membership.remove").order_by("pk")] == [
        world["staff"].pk,
        newcomer.pk,
    ]


def test_consent_lets_the_advisor_act_until_it_is_revoked(client: Client, world: dict[str, Any]) -> None:
    org, owner, advisor = world["org"], world["owner"], world["advisor"]
    app = services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=MONOZUKURI_PLAN
    )
    login(client, owner)
    not_advisor = client.post(f"/organizations/{org.pk}/consents/", {"email": "staff@example.jp"})
    assert not_advisor.status_code == 422 or not_advisor.status_code == 400
    assert (
        "支援者" in not_advisor.content.decode()
        and 'value="staff@example.jp"' in not_advisor.content.decode()
    )
    for _ in range(2):
        assert (
            client.post(f"/organizations/{org.pk}/consents/", {"email": "ADVISOR@example.jp"}).status_code
            == 302
        )
    consent = AdvisorConsent.objects.get(organization=org, revoked_at=None)
    assert AuditLog.objects.filter(action="advisor_consent.grant").count() == 1
    assert list(applications_for(advisor)) == [app]
    login(client, world["staff"])  # only the 代表者 grants or revokes
    assert (
        client.post(f"/organizations/{org.pk}/consents/{consent.pk}/revoke/", {"confirm": "1"}).status_code
        == 403
    )
    login(client, owner)
    asked = client.post(f"/organizations/{org.pk}/consents/{consent.pk}/revoke/")
    assert asked.status_code == 200 and "同意を取り消しますか" in asked.content.decode()
    assert AdvisorConsent.objects.get(pk=consent.pk).revoked_at is None
    assert (
        client.post(f"/organizations/{org.pk}/consents/{consent.pk}/revoke/", {"confirm": "1"}).status_code
        == 302
    )
    assert (
        client.post(f"/organizations/{org.pk}/consents/{consent.pk}/revoke/", {"confirm": "1"}).status_code
        == 302
    )
    assert AuditLog.objects.filter(action="advisor_consent.revoke").count() == 1
    assert list(applications_for(advisor)) == []
    assert login(client, advisor).get(f"/applications/{app.pk}/").status_code == 404
    page = login(client, owner).get(f"/organizations/{org.pk}/").content.decode()
    assert "取消し（" in page and app.frame_key not in page and "ものづくり" in page


def test_a_submitted_application_keeps_the_facts_it_was_judged_on(
    world: dict[str, Any], settings: Any, clock: Clock
) -> None:
    from shien.accounts import members

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    clock.set(datetime(2024, 3, 20, 10, 0, tzinfo=JST))
    org, owner = world["org"], world["owner"]
    draft = services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=MONOZUKURI_PLAN
    )
    submitted = services.application_create(
        actor=owner, organization=org, program="monozukuri", frame="shoryokuka", plan=MONOZUKURI_PLAN
    )
    submitted = services.application_submit(actor=owner, application=submitted)
    assert submitted.facts["employees"] == 30
    members.organization_update(actor=owner, organization=org, employees=3)  # 5人以下: a smaller cap
    moment = datetime(2024, 3, 21, tzinfo=JST)
    submitted.refresh_from_db()
    draft.refresh_from_db()
    assert services.profile_for(submitted, moment).business.employees == 30
    assert services.profile_for(draft, moment).business.employees == 3
    office = user("office@example.jp", Role.SECRETARIAT)
    client = Client()
    client.force_login(office)
    page = client.get(f"/office/applications/{submitted.pk}/").content.decode()
    assert "従業員数（申請時）" in page and "30人（現在 3人）" in page


def test_registering_twice_from_one_form_registers_once(client: Client) -> None:
    owner = user("twice@example.jp")
    client.force_login(owner)
    page = client.get("/organizations/new/").content.decode()
    key = page.split('name="idempotency_key" value="')[1].split('"')[0]
    for _ in range(2):  # a double click, or a retry after a lost answer
        assert client.post("/organizations/new/", FACTS | {"idempotency_key": key}).status_code == 302
    assert Membership.objects.filter(user=owner).count() == 1
    fresh = client.get("/organizations/new/").content.decode()
    assert key not in fresh  # a new form: a second business is registered
    other = fresh.split('name="idempotency_key" value="')[1].split('"')[0]
    assert (
        client.post("/organizations/new/", FACTS | {"name": "二社目", "idempotency_key": other}).status_code
        == 302
    )
    assert Membership.objects.filter(user=owner).count() == 2


def test_a_refused_new_business_answers_400_with_what_was_typed(client: Client) -> None:
    owner = user("refused@example.jp")
    client.force_login(owner)
    for typed, message in (
        (FACTS | {"employees": "たくさん"}, "人数を数字で入力してください"),
        (FACTS | {"corporate_number": "1234567890123"}, "チェックディジット"),  # refused by the service
        (
            FACTS | {"name": "名" * 5000},
            "事業者名は200文字以内で入力してください（いまは5,000文字。400文字を超える部分は表示していません）",
        ),
        (
            FACTS | {"invoice_number": "T" * 30},
            "インボイス登録番号は20文字以内で入力してください（いまは30文字）",
        ),
    ):
        page = client.post("/organizations/new/", typed)
        assert page.status_code == 400 and message in page.content.decode(), message
    long_name = client.post("/organizations/new/", FACTS | {"name": "名" * 5000}).content.decode()
    assert "名" * 400 in long_name and "名" * 401 not in long_name  # the limit and a margin, not all of it
    assert not Membership.objects.filter(user=owner).exists()
    assert client.get("/organizations/new/").status_code == 200


def test_invitations_are_declined_cancelled_and_found_after_sign_up(
    client: Client, world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    org, owner = world["org"], world["owner"]
    login(client, owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/organizations/{org.pk}/members/", {"email": "later@example.jp", "kind": "owner"})
        client.post(f"/organizations/{org.pk}/members/", {"email": "cancel@example.jp", "kind": "member"})
    page = client.get(f"/organizations/{org.pk}/").content.decode()
    assert "later@example.jp（代表者" in page and "招待を取り消す" in page
    cancel = Invitation.objects.get(email="cancel@example.jp")
    login(client, world["staff"])  # only the 代表者 cancels
    assert client.post(f"/organizations/{org.pk}/invitations/{cancel.pk}/cancel/").status_code == 403
    login(client, owner)
    assert client.post(f"/organizations/{org.pk}/invitations/{cancel.pk}/cancel/").status_code == 302
    assert Invitation.objects.get(pk=cancel.pk).status == "cancelled"
    fresh = Client()  # the invited person signs up with the address, and finds the invitation
    with django_capture_on_commit_callbacks(execute=True):
        fresh.post("/accounts/signup/", {"name": "後藤 花子", "email": "Later@example.jp"})
    confirm = re.search(r"/accounts/signup/confirm/[^\s]+/", mail.outbox[-1].body).group(0)
    fresh.post(confirm, {"password": "sumire-no-hana-2024", "password_again": "sumire-no-hana-2024"})
    assert "から代表者としての招待" in fresh.get("/mypage/").content.decode()
    later = Invitation.objects.get(email="later@example.jp")
    assert (
        fresh.post(f"/organizations/invitations/{later.pk}/answer/", {"answer": "decline"}).url == "/mypage/"
    )
    assert Invitation.objects.get(pk=later.pk).status == "declined"
    assert not Membership.objects.filter(organization=org, user__email="later@example.jp").exists()
    assert list(AuditLog.objects.filter(action__startswith="invitation.").values_list("action", flat=True).order_by("pk")) == [
        "invitation.create", "invitation.create", "invitation.cancelled", "invitation.declined"
    ]  # fmt: skip


def test_nobody_but_the_owner_learns_names_from_questions_or_lookups(
    client: Client, world: dict[str, Any]
) -> None:
    org, owner, advisor = world["org"], world["owner"], world["advisor"]
    other_advisor = user("other-advisor@example.jp", Role.ADVISOR)
    AdvisorConsent.objects.create(organization=org, advisor=advisor, granted_by=owner)
    theirs = AdvisorConsent.objects.create(organization=org, advisor=other_advisor, granted_by=owner)
    member = Membership.objects.get(organization=org, user=world["staff"])
    login(client, advisor)
    for url in (
        f"/organizations/{org.pk}/members/{member.pk}/remove/",
        f"/organizations/{org.pk}/consents/{theirs.pk}/revoke/",
    ):
        asked = client.post(url)  # the question comes only after the permission check
        assert asked.status_code == 403
        assert (
            "staff@example.jp" not in asked.content.decode() and "other-advisor" not in asked.content.decode()
        )
    login(client, world["staff"])  # a 担当者 cannot probe which addresses are advisors
    probes = [
        client.post(f"/organizations/{org.pk}/consents/", {"email": e})
        for e in ("advisor@example.jp", "x@example.jp")
    ]
    assert [p.status_code for p in probes] == [403, 403]
    assert probes[0].content.decode().count("支援者への同意は事業者の代表者が行います") == 1


def test_an_advisor_is_told_of_a_consent_and_may_end_it(client: Client, world: dict[str, Any]) -> None:
    from shien.core.models import Notification

    org, advisor = world["org"], world["advisor"]
    login(client, world["owner"]).post(f"/organizations/{org.pk}/consents/", {"email": "advisor@example.jp"})
    note = Notification.objects.get(user=advisor, kind="advisor_consent")
    assert note.url == f"/organizations/{org.pk}/" and "広島精機株式会社" in note.title
    consent = AdvisorConsent.objects.get(organization=org, advisor=advisor)
    login(client, advisor)
    page = client.get(f"/organizations/{org.pk}/").content.decode()
    assert "代理をやめる" in page
    asked = client.post(f"/organizations/{org.pk}/consents/{consent.pk}/revoke/")
    assert asked.status_code == 200 and "代理をやめますか" in asked.content.decode()
    assert (
        client.post(f"/organizations/{org.pk}/consents/{consent.pk}/revoke/", {"confirm": "1"}).url
        == "/mypage/"
    )
    assert AdvisorConsent.objects.get(pk=consent.pk).revoked_at is not None
    assert AuditLog.objects.get(action="advisor_consent.revoke").data == {"by_advisor": True}
    assert client.get(f"/organizations/{org.pk}/").status_code == 404


def test_the_owner_changes_roles_but_the_last_owner_stays(client: Client, world: dict[str, Any]) -> None:
    org, owner = world["org"], world["owner"]
    mine = Membership.objects.get(organization=org, user=owner)
    theirs = Membership.objects.get(organization=org, user=world["staff"])
    login(client, owner)
    page = client.get(f"/organizations/{org.pk}/").content.decode()
    assert "ただ1人の代表者" in page and "メンバーから外れる" not in page  # not offered, then refused
    refused = client.post(f"/organizations/{org.pk}/members/{mine.pk}/kind/", {"kind": "member"})
    assert refused.status_code == 409 and "代表者が1人だけ" in refused.content.decode()
    assert (
        client.post(f"/organizations/{org.pk}/members/{theirs.pk}/kind/", {"kind": "owner"}).status_code
        == 302
    )
    assert Membership.objects.get(pk=theirs.pk).kind == "owner"
    assert "メンバーから外れる" in client.get(f"/organizations/{org.pk}/").content.decode()
    assert (
        client.post(f"/organizations/{org.pk}/members/{mine.pk}/kind/", {"kind": "member"}).status_code == 302
    )
    assert AuditLog.objects.filter(action="membership.kind").count() == 2
    login(client, owner)  # now a 担当者: changes nobody's role
    assert (
        client.post(f"/organizations/{org.pk}/members/{theirs.pk}/kind/", {"kind": "member"}).status_code
        == 403
    )


def test_invitation_mails_are_limited_per_address_and_per_inviter(
    client: Client, world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    org, owner = world["org"], world["owner"]
    login(client, owner)
    invite = lambda address: client.post(  # noqa: E731
        f"/organizations/{org.pk}/members/", {"email": address, "kind": "member"}
    )
    for _ in range(4):  # invite, cancel, invite again: the address gets at most 3 mails in the hour
        with django_capture_on_commit_callbacks(execute=True):
            assert invite("someone@example.jp").status_code == 302
        client.post(f"/organizations/{org.pk}/invitations/{Invitation.objects.latest('pk').pk}/cancel/")
    assert [m.to for m in mail.outbox] == [["someone@example.jp"]] * 3
    assert Invitation.objects.filter(email="someone@example.jp").count() == 4  # the 4th made, not mailed
    # the mail to a stranger carries no text the inviter chose (the organization's name)
    assert "広島精機" not in mail.outbox[0].body + mail.outbox[0].subject
    assert "/accounts/signup/" in mail.outbox[0].body
    # an account holder: the inbox always, the mail within the address's limit
    member = user("member@example.jp")
    for _ in range(4):
        with django_capture_on_commit_callbacks(execute=True):
            invite("member@example.jp")
        client.post(f"/organizations/{org.pk}/invitations/{Invitation.objects.latest('pk').pk}/cancel/")
    assert member.notifications.count() == 4 and len(mail.outbox) == 6
    # the inviter's own limit (10 an hour): the next invitation is refused, with when to try again
    for n in range(2):
        invite(f"more{n}@example.jp")
    refused = invite("one-too-many@example.jp")
    assert refused.status_code == 429 and "招待の送信は1時間に10件まで" in refused.content.decode()
    assert not Invitation.objects.filter(email="one-too-many@example.jp").exists()
