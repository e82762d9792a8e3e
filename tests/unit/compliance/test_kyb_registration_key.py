"""G5 for businesses, the keys: a registration number typed with other case and separators is one business; no
business is ever the same key as a person's ID; two different numbers never collide. And the rule over the use
case, with random directors: whoever directs which business, only a shared registration number refuses."""

from __future__ import annotations

from cryptopay.core.kyc.applications import BusinessDetails, RegistrationInUse, id_key, registration_key
from cryptopay.core.kyc.checks import IdType, check_registration_number
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.kyc_rig import KycRig, business, director

CORE = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=4, max_size=20)
SEPARATORS = st.sampled_from(["", "-", "/", ".", " "])


@st.composite
def typed(draw: st.DrawFn, core: str) -> str:
    """``core`` as someone may type it: any case, separators between characters, spaces around."""
    chars = [c.lower() if draw(st.booleans()) else c for c in core]
    return " " + "".join(c + draw(SEPARATORS) for c in chars).strip(" ./-") + " "


@given(st.data(), CORE)
def test_a_registration_number_typed_any_way_is_one_key(data: st.DataObject, core: str) -> None:
    assert registration_key(data.draw(typed(core))) == registration_key(core) == f"business_registration:{core}"


@given(CORE, CORE)
def test_different_numbers_are_different_keys(one: str, two: str) -> None:
    assert (registration_key(one) == registration_key(two)) == (one == two)


@given(CORE, st.sampled_from(list(IdType)))
def test_no_registration_is_a_persons_id(core: str, id_type: IdType) -> None:
    assert registration_key(core) != id_key(id_type, core)


@given(CORE)
def test_the_api_checks_form_is_the_same_key(core: str) -> None:
    """What the edge keeps (``check_registration_number``) keys the same as the bare number."""
    assert registration_key(check_registration_number(core)) == registration_key(core)


PEOPLE = st.sampled_from(["11111111", "22222222", "33333333"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(PEOPLE, min_size=1, max_size=2, unique=True),
    second=st.lists(PEOPLE, min_size=1, max_size=2, unique=True),
    same_registration=st.booleans(),
)
def test_only_a_shared_registration_refuses_directors_are_information(
    first: list[str], second: list[str], same_registration: bool
) -> None:
    """Two merchants, random directors from three people: the second's approval is refused exactly when the
    registration number is the first's; ``directors_elsewhere`` names exactly the directors on both."""
    rig = KycRig()

    def details(number: str, ids: list[str]) -> BusinessDetails:
        return business(number, *(director(f"Person {i}", id_number=i) for i in ids))

    one = rig.kyb("mer_one", details=details("PVT-AAA1111", first))
    rig.decide("usr_ann", one)
    rig.decide("usr_bob", one)
    two = rig.kyb("mer_two", details=details("pvt.aaa1111" if same_registration else "PVT-BBB2222", second))
    shown = rig.review.application("usr_ann", two)
    both = {f"d{n}" for n, i in enumerate(second, start=1) if i in first}
    assert set(shown.directors_elsewhere) == both
    assert all(parties == ("mer_one",) for parties in shown.directors_elsewhere.values())
    try:
        rig.decide("usr_ann", two)
        refused = False
    except RegistrationInUse:
        refused = True
    assert refused == same_registration
