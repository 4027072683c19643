"""Splitting party lists, normalising names and resolving them to organisations."""

import pytest

from dsrwatch.normalise.organisations import (
    FUZZY_ACCEPT,
    OrganisationResolver,
    RegistryOrganisation,
    normalise_name,
    split_party_list,
)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Google, Meta", ["Google", "Meta"]),
        ("Seren Juno Network Co., Ltd.", ["Seren Juno Network Co., Ltd."]),
        ("Ocean Specialists, Inc (OSI), Telstra", ["Ocean Specialists, Inc (OSI)", "Telstra"]),
        ("Blackburn Technologies, LLC., Orange", ["Blackburn Technologies, LLC.", "Orange"]),
        ("  China   Unicom ,Camtel ", ["China Unicom", "Camtel"]),
        ("", []),
        (None, []),
    ],
)
def test_split_party_list(text, names):
    assert split_party_list(text) == names


def test_normalise_strips_legal_forms_punctuation_and_accents():
    assert normalise_name("Huawei Technologies Co., Ltd.") == "huawei technologies"
    assert normalise_name("Société ZTE Corporation") == "societe zte"
    assert normalise_name("AT&T") == "at and t"
    assert normalise_name("Hengtong Group") == "hengtong group"  # group distinguishes the parent


REGISTRY = [
    RegistryOrganisation("huawei", "Huawei Technologies Co., Ltd.", ("Huawei",)),
    RegistryOrganisation("china-telecom", "China Telecom Corporation Limited", ("China Telecom",)),
    RegistryOrganisation("ceiec", "China National Electronics Import & Export Corporation", ("CEIEC",)),
]


def test_resolution_order_alias_then_normalised_then_fuzzy():
    resolver = OrganisationResolver(REGISTRY)
    assert resolver.resolve("HUAWEI").method == "registry-alias"
    normalised = resolver.resolve("Huawei Technologies Co. Ltd")
    assert (normalised.organisation_id, normalised.method) == ("huawei", "registry-normalised")
    fuzzy = resolver.resolve("Huawei Technologis")
    assert (fuzzy.organisation_id, fuzzy.method) == ("huawei", "registry-fuzzy") and fuzzy.score >= FUZZY_ACCEPT


def test_lookalikes_are_not_trusted():
    resolver = OrganisationResolver(REGISTRY)
    chunghwa = resolver.resolve("Chunghwa Telecom")
    assert chunghwa.method == "source-name" and chunghwa.organisation_id == "chunghwa-telecom"
    # A different firm one word away from CEIEC goes to review instead of being merged into it.
    electric = resolver.resolve("China National Electric Import & Export Corp.")
    assert electric.method == "source-name" and electric.review_candidate == "ceiec"


def test_unregistered_names_get_a_stable_slug():
    resolver = OrganisationResolver()
    assert resolver.resolve("Pakistan Telecommunications Company Ltd.").organisation_id == "pakistan-telecommunications"


def test_hong_kong_and_macau_places_filed_under_china_get_their_own_codes():
    from dsrwatch.normalise.countries import place_iso3

    assert place_iso3("Cape D\u2019Aguilar", "China") == "HKG"  # TeleGeography's curly apostrophe
    assert place_iso3("Taipa", "China") == "MAC"
    assert place_iso3("Hong Kong", "China") == "HKG"  # a cloud metro
    assert place_iso3("Shanghai", "China") == "CHN"
    assert place_iso3("Hong Kong", "United States") == "USA"  # only corrects places filed under China
