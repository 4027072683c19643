"""The components taxonomy (reference/deal_components.yaml via dsrwatch.normalise.components).

Texts are real-style project descriptions written for these tests, modelled on real cases.
"""

import pytest

from dsrwatch.normalise.components import (
    PhraseIndex,
    TagMatch,
    Taxonomy,
    classify,
    default_taxonomy,
    fold,
    relevant_tags,
)

ISLAMABAD = (
    "Safe City Islamabad: the Export-Import Bank of China financed the project and Huawei built it. Some 1,950 "
    "CCTV cameras feed a command and control centre of the Islamabad Capital Territory Police; the cameras "
    "use facial recognition and licence-plate recognition and connect over a 4G eLTE network."
)
NAIROBI_MOMBASA = (
    "National Surveillance, Communication and Control System: Safaricom PLC, the prime contractor, installed "
    "1,800 CCTV cameras in Nairobi and Mombasa, a command centre for the National Police Service and a 4G LTE "
    "network, with technology from Huawei, as part of the Government of Kenya's safe city programme."
)
MEXICO_CITY_C5 = (
    "Proyecto Bicentenario Ciudad Segura: Thales entregó el C5 (Centro de Comando, Control, Cómputo, "
    "Comunicaciones y Contacto Ciudadano) de la Ciudad de México con 8,088 cámaras de videovigilancia."
)


def test_islamabad_safe_city_has_cctv_command_centre_and_face_recognition():
    tags = classify(ISLAMABAD)
    assert tags["safe_city"] == ["safe city"]
    assert tags["cctv"] == ["cctv cameras"]
    assert tags["command_centre"] == ["command and control"]
    assert tags["face_recognition"] == ["facial recognition"]
    assert tags["licence_plate_recognition"] == ["licence-plate recognition"]
    assert tags["mobile_network"] == ["4g", "elte"]
    assert tags["police_security"] == ["police"]
    assert "national_id_link" not in tags


def test_nairobi_mombasa_safe_city_with_prime_contractor():
    tags = classify(NAIROBI_MOMBASA)
    assert set(tags) == {"cctv", "command_centre", "mobile_network", "safe_city", "police_security"}
    assert tags["command_centre"] == ["command centre"]
    assert tags["police_security"] == ["national police"]
    assert tags["mobile_network"] == ["4g", "lte"]


def test_mexico_city_c5_in_spanish():
    tags = classify(MEXICO_CITY_C5)
    assert tags == {"cctv": ["videovigilancia"], "command_centre": ["c5", "centro de comando"],
                    "safe_city": ["ciudad segura"]}  # fmt: skip


def test_french_and_portuguese_words_with_and_without_accents():
    assert classify("la vidéosurveillance de Dakar")["cctv"] == ["vidéosurveillance"]
    assert classify("la videosurveillance de Dakar")["cctv"] == ["videosurveillance"]
    assert classify("Projeto de videovigilância e reconhecimento facial")["face_recognition"] == ["reconhecimento facial"]
    assert classify("la carte nationale d’identité biométrique")["national_id_link"] == ["carte nationale d’identité"]
    assert classify("Centre de commandement et de contrôle")["command_centre"] == [
        "centre de commandement et de contrôle"
    ]


def test_separators_plurals_and_case():
    assert classify("a new Data-Centre")["data_centre"] == ["data-centre"]
    assert classify("the DATACENTER at Kaliakoir")["data_centre"] == ["datacenter"]
    assert classify("E-Government services")["e_government"] == ["e-government"]
    assert classify("surveillance cameras on every corner")["cctv"] == ["surveillance cameras"]


@pytest.mark.parametrize(
    "text",
    [
        "According to CCTV, the Chinese ambassador attended the ceremony.",  # China Central Television
        "Disease surveillance system for the Africa CDC laboratories.",
        "Cloud seeding to end the drought.",
        "The new line is the backbone of the national power grid.",
        "A satellite town for 40,000 residents.",
        "Our policies on road safety.",  # not "police"
        "Eid al-Fitr food aid.",  # not "eID"
        "The minister ami of the president.",  # not "AMI"
        "A grant for Nigeria's ID (Integrated Development) programme.",
    ],
)
def test_false_friends_do_not_match(text):
    assert classify(text) == {}


def test_whole_words_only():
    assert classify("Policemen and the apolice") == {"police_security": ["policemen"]}
    assert classify("4Giants and 5GHz radios") == {}


def test_case_sensitive_acronyms():
    assert classify("an eID card")["national_id_link"] == ["eID"]
    assert "national_id_link" not in classify("EID celebrations")
    assert classify("AMI roll-out")["smart_metering"] == ["AMI"]


def test_words_are_reported_in_order_of_first_appearance_without_duplicates():
    text = "CCTV cameras, more CCTV Cameras, then video surveillance"
    assert classify(text)["cctv"] == ["cctv cameras", "video surveillance"]


def test_party_names_classify_the_end_user():
    taxonomy = default_taxonomy()
    assert taxonomy.party_name_tags == {"police_security"}
    assert taxonomy.classify("Serbian Ministry of Internal Affairs", taxonomy.party_name_tags) == {
        "police_security": ["ministry of internal affairs"]
    }
    assert taxonomy.classify("Bangladesh Computer Council", taxonomy.party_name_tags) == {}


def test_classify_fields_records_where_each_tag_was_found():
    taxonomy = default_taxonomy()
    found = taxonomy.classify_fields({"title": "Konza Data Centre and Smart City",
                                      "description": "a national cloud data center and a government cloud"})  # fmt: skip
    assert found["data_centre"] == TagMatch(("data centre", "data center"), ("title", "description"))
    assert found["cloud"].fields == ("description",)


def test_relevance_strong_tags_anywhere_title_tags_only_in_titles():
    taxonomy = default_taxonomy()
    in_description = taxonomy.classify_fields({"title": "Isimba Hydropower Station",
                                               "description": "the national backbone of the grid and its 3G link"})  # fmt: skip
    assert set(in_description) == {"backbone", "mobile_network"}
    assert relevant_tags(taxonomy, in_description) == []
    in_title = taxonomy.classify_fields({"title": "National Backbone Project", "description": None})
    assert relevant_tags(taxonomy, in_title) == ["backbone"]
    strong = taxonomy.classify_fields({"title": "Airport expansion", "description": "with a data center"})
    assert relevant_tags(taxonomy, strong) == ["data_centre"]
    context_only = taxonomy.classify_fields({"title": "Police training", "description": None})
    assert relevant_tags(taxonomy, context_only) == []


def test_every_tag_the_issue_names_is_in_the_seed():
    required = {"face_recognition", "licence_plate_recognition", "cctv", "command_centre", "national_id_link",
                "e_government", "data_centre", "cloud", "backbone", "mobile_network", "safe_city", "smart_city",
                "police_security"}  # fmt: skip
    assert required <= set(default_taxonomy().tags)


def test_the_seed_is_loaded_once():
    assert default_taxonomy() is default_taxonomy()


def test_bad_seeds_are_rejected_with_the_tag_named():
    with pytest.raises(ValueError, match="no patterns"):
        Taxonomy({"tags": {"cctv": {"patterns": []}}})
    with pytest.raises(ValueError, match="relevance"):
        Taxonomy({"tags": {"cctv": {"relevance": "maybe", "patterns": ["cctv camera"]}}})
    with pytest.raises(ValueError, match="unknown field"):
        Taxonomy({"tags": {"cctv": {"words": ["x"], "patterns": ["cctv camera"]}}})
    with pytest.raises(ValueError, match="lower_snake_case"):
        Taxonomy({"tags": {"CCTV": {"patterns": ["cctv camera"]}}})


def test_phrase_index_for_other_phrase_lists():
    index = PhraseIndex([("huawei", "huawei", False), ("hmn", "huawei marine", False), ("zte", "ZTE", True)])
    assert index.find("Huawei Marine and Huawei, with ZTE but not zte") == {
        "hmn": ["huawei marine"], "huawei": ["huawei"], "zte": ["ZTE"]}


def test_fold_keeps_positions():
    text = "Vidéo‐surveillance – cámaras ’ok’"
    assert len(fold(text)) == len(text)
    assert fold(text) == "Video-surveillance - camaras 'ok'"


def test_real_huawei_surveillance_donations_name_their_security_purpose():
    # AidData's Huawei workbook: KCCA cameras "to monitor and track illegal activity"; Brest border post
    kampala = classify("The equipment will be used to help the KCCA monitor and track illegal activity in Kampala.")
    brest = classify("the border video surveillance project took place at the Brest border crossing (post)")
    assert "police_security" in kampala
    assert {"cctv", "police_security"} <= set(brest)
