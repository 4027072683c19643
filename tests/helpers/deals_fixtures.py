"""Small hand-made fixtures for the deal sources, in each source's exact shape.

* AidData: a GCDF 3.0 workbook built here with openpyxl (official column names and order, sheet
  ``GCDF_<release>``, '|'-separated agencies with one type each), zipped like the release.
* World Bank: Socrata ``kdui-wcs3.json`` pages (JSON lists of string-valued objects).
* GDELT: DOC 2.0 ``artlist`` answers (``{"articles": [...]}``, 8 string keys per article).

The records are modelled on real cases, in our own words: Islamabad Safe City (China Exim Bank
loan, Huawei), Konza data centre and smart city (China Exim Bank, Huawei), Bangladesh's national
data centre (China Exim Bank, ZTE), Huawei's donations in Kampala and Belgrade. Two control cases
are not AidData records in reality (AidData lists only Chinese official finance) and are placed
in the workbook to exercise the patterns: the Nairobi-Mombasa safe city (Kenyan government money,
Safaricom as prime contractor, Huawei technology) and Mexico City's C5 "Ciudad Segura" (Thales).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from dsrwatch.fetching import url_to_relative_path

# GCDF 3.0 columns in the release's order as far as they are documented (the release has 126; the
# undocumented ones between "Commitment Date" and "Source URLs", and before the scores, are
# omitted here and filled in by the benchmark).
GCDF3_LEADING_COLUMNS = (
    "AidData Record ID", "Recommended For Aggregates", "AidData Parent ID", "Umbrella", "Financier Country",
    "Recipient", "Recipient ISO-3", "Recipient Region", "Commitment Year", "Implementation Start Year",
    "Completion Year", "Title", "Description", "Staff Comments", "Status", "Intent", "Flow Type",
    "Flow Type Simplified", "OECD ODA Concessionality Threshold", "Flow Class", "Sector Code", "Sector Name",
    "Infrastructure", "COVID", "Funding Agencies", "Funding Agencies Type", "Co-financed", "Co-financing Agencies",
    "Co-financing Agencies Type", "Direct Receiving Agencies", "Direct Receiving Agencies Type",
    "Indirect Receiving Agencies", "Indirect Receiving Agencies Type", "On-lending", "Implementing Agencies",
    "Implementing Agencies Type", "Guarantee Provided", "Guarantor", "Guarantor Agency Type", "Insurance Provided",
    "Insurance Provider", "Insurance Provider Agency Type", "Collateralized", "Collateral Provider",
    "Collateral Provider Agency Type", "Security Agent/Collateral Agent", "Security Agent/Collateral Agent Type",
    "Collateral", "Amount (Original Currency)", "Original Currency", "Amount Estimated", "Amount (Constant USD 2021)",
    "Amount (Nominal USD)", "Adjusted Amount (Original Currency)", "Adjusted Amount (Constant USD 2021)",
    "Adjusted Amount (Nominal USD)", "Financial Distress", "Commitment Date (MM/DD/YYYY)",
)  # fmt: skip
GCDF3_SOURCE_COLUMNS = ("Source URLs", "Source Titles", "Source Publishers", "Source Resource Types")
GCDF3_SCORE_COLUMNS = ("Source Quality Score", "Data Completeness Score", "Implementation Detail Score",
                       "Loan Detail Score")  # fmt: skip
GCDF3_COLUMNS = GCDF3_LEADING_COLUMNS + GCDF3_SOURCE_COLUMNS + GCDF3_SCORE_COLUMNS

AIDDATA_PATH = "docs.aiddata.org/ad4/datasets/AidDatas_Global_Chinese_Development_Finance_Dataset_Version_3_0.zip"
WORKBOOK_NAME = "AidDatasGlobalChineseDevelopmentFinanceDataset_v3.0.xlsx"
PRC = "China (People's Republic of)"


def gcdf_record(record_id: int, **fields: object) -> dict[str, object]:
    """A record with the fields every GCDF row has, overridden by ``fields`` (official names)."""
    record = {"AidData Record ID": record_id, "Recommended For Aggregates": "Yes", "Umbrella": "No",
              "Financier Country": PRC, "Intent": "Mixed", "Infrastructure": "Yes", "COVID": "No",
              "Source Quality Score": 4, "Data Completeness Score": 3}  # fmt: skip
    record.update(fields)
    return record


ISLAMABAD = gcdf_record(
    37016,
    Recipient="Pakistan", **{"Recipient ISO-3": "PAK", "Recipient Region": "Asia", "Commitment Year": 2010,
    "Implementation Start Year": 2014, "Completion Year": 2016,
    "Title": "China Eximbank provides concessional loan for the Islamabad Safe City Project",
    "Description": (
        "In December 2010 the Export-Import Bank of China and the Government of Pakistan signed a government "
        "concessional loan agreement for the Safe City Islamabad project. Huawei Technologies Co., Ltd. was the "
        "contractor. The system links about 1,950 CCTV cameras with licence plate recognition and face recognition "
        "to a command and control centre of the Islamabad Capital Territory Police, over a 4G eLTE network."),
    "Status": "Completion", "Flow Type": "Loan", "Flow Type Simplified": "Loan", "Flow Class": "ODA-like",
    "Sector Code": 150, "Sector Name": "GOVERNMENT AND CIVIL SOCIETY",
    "Funding Agencies": "Export-Import Bank of China (China Eximbank)", "Funding Agencies Type": "State-owned Policy Bank",
    "Direct Receiving Agencies": "Pakistan Ministry of Interior", "Direct Receiving Agencies Type": "Recipient Government Agency",
    "Implementing Agencies": "Huawei Technologies Co., Ltd.|Islamabad Capital Territory Police",
    "Implementing Agencies Type": "Chinese Private Sector|Recipient Government Agency",
    "Amount (Constant USD 2021)": 174885814.4, "Original Currency": "CNY",
    "Source URLs": "https://www.example.org/islamabad-safe-city|https://www.example.org/pakistan-erd-loans"},
)  # fmt: skip

NAIROBI_MOMBASA = gcdf_record(
    90001,
    Recipient="Kenya", **{"Recipient ISO-3": "KEN", "Recipient Region": "Africa", "Commitment Year": 2014,
    "Title": "National Surveillance, Communication and Control System (Nairobi and Mombasa safe city)",
    "Description": (
        "The Government of Kenya contracted Safaricom PLC as prime contractor for a safe city system in Nairobi and "
        "Mombasa: about 1,800 CCTV cameras, a command centre for the National Police Service and a 4G LTE network "
        "for police communications. Huawei Technologies supplied the technology."),
    "Status": "Completion", "Flow Type": "Vague TBD", "Sector Name": "COMMUNICATIONS",
    "Funding Agencies": "Government of Kenya", "Funding Agencies Type": "Government Agency",
    "Direct Receiving Agencies": "National Police Service of Kenya", "Direct Receiving Agencies Type": "Recipient Government Agency",
    "Implementing Agencies": "Safaricom PLC|Huawei Technologies Co., Ltd.",
    "Implementing Agencies Type": "Recipient Private Sector|Chinese Private Sector",
    "Source URLs": "https://www.example.org/kenya-nsccs"},
)  # fmt: skip

MEXICO_CITY_C5 = gcdf_record(
    90002,
    Recipient="Mexico", **{"Recipient ISO-3": "MEX", "Recipient Region": "America", "Commitment Year": 2009,
    "Title": "Proyecto Bicentenario Ciudad Segura: C5 command and control centre for Mexico City",
    "Description": (
        "Thales built Mexico City's C5 (Centro de Comando, Control, Cómputo, Comunicaciones y Contacto Ciudadano) "
        "with some 8,000 cámaras de videovigilancia for the Secretaría de Seguridad Ciudadana."),
    "Status": "Completion", "Flow Type": "Vague TBD", "Sector Name": "GOVERNMENT AND CIVIL SOCIETY",
    "Funding Agencies": "Government of Mexico City", "Funding Agencies Type": "Government Agency",
    "Direct Receiving Agencies": "Secretaría de Seguridad Ciudadana de la Ciudad de México",
    "Direct Receiving Agencies Type": "Recipient Government Agency",
    "Implementing Agencies": "Thales Group|Teléfonos de México", "Implementing Agencies Type": "Other Private Sector|Recipient Private Sector",
    "Source URLs": "https://www.example.org/c5-cdmx"},
)  # fmt: skip

KONZA = gcdf_record(
    59366,
    Recipient="Kenya", **{"Recipient ISO-3": "KEN", "Recipient Region": "Africa", "Commitment Year": 2019,
    "Title": "China Eximbank provides concessional loan for the Konza Data Centre and Smart City Project",
    "Description": (
        "China Eximbank and Kenya's Ministry of Finance signed a government concessional loan for the Konza Data "
        "Centre and Smart City Project. The project builds a national cloud data center, a smart ICT network, a "
        "public safe city system and a government cloud. Huawei Technologies Co., Ltd. is the EPC contractor."),
    "Status": "Implementation", "Flow Type": "Loan", "Sector Name": "COMMUNICATIONS",
    "Funding Agencies": "Export-Import Bank of China (China Eximbank)", "Funding Agencies Type": "State-owned Policy Bank",
    "Direct Receiving Agencies": "Kenya Ministry of Information, Communications and Technology",
    "Direct Receiving Agencies Type": "Recipient Government Agency",
    "Implementing Agencies": "Huawei Technologies Co., Ltd.|Konza Technopolis Development Authority",
    "Implementing Agencies Type": "Chinese Private Sector|Recipient Government Agency",
    "Amount (Constant USD 2021)": 200434518.87, "Source URLs": "https://www.example.org/konza"},
)  # fmt: skip

BANGLADESH_NDC = gcdf_record(
    52654,
    Recipient="Bangladesh", **{"Recipient ISO-3": "BGD", "Recipient Region": "Asia", "Commitment Year": 2016,
    "Title": "China Eximbank provides concessional loan for the Tier IV National Data Center in Kaliakoir",
    "Description": ("The loan finances a commercial contract between ZTE Corporation and the Bangladesh Computer "
                    "Council to build a data center that stores and processes official data."),
    "Status": "Completion", "Flow Type": "Loan", "Sector Name": "COMMUNICATIONS",
    "Funding Agencies": "China Eximbank", "Funding Agencies Type": "State-owned Policy Bank",
    "Implementing Agencies": "Bangladesh Computer Council|ZTE Corporation",
    "Implementing Agencies Type": "Recipient Government Agency|Chinese State-owned Company",
    "Insurance Provider": "China Export & Credit Insurance Corporation (Sinosure)",
    "Insurance Provider Agency Type": "State-owned Export Credit Agency",
    "Amount (Constant USD 2021)": 168021010.33, "Source URLs": "https://www.example.org/bangladesh-ndc"},
)  # fmt: skip

SMART_CLASSROOM = gcdf_record(
    53843,
    Recipient="Uzbekistan", **{"Recipient ISO-3": "UZB", "Commitment Year": 2017,
    "Title": "Huawei donates a smart classroom to a Tashkent middle school",
    "Description": "Huawei Technologies donated a smart classroom with interactive screens to a school in Tashkent.",
    "Status": "Completion", "Flow Type": "Grant", "Sector Name": "EDUCATION",
    "Funding Agencies": "Huawei Technologies Co., Ltd.", "Funding Agencies Type": "Chinese Private Sector"},
)  # fmt: skip

ROAD = gcdf_record(
    57140,
    Recipient="Zambia", **{"Recipient ISO-3": "ZMB", "Commitment Year": 2011,
    "Title": "China Eximbank provides preferential buyer's credit for the Mongu-Tapo road section",
    "Description": ("The loan finances 34 km of road across the floodplain. According to CCTV, the contractor "
                    "installed a control room at the camp."),
    "Status": "Completion", "Flow Type": "Loan", "Sector Name": "TRANSPORT AND STORAGE",
    "Funding Agencies": "China Eximbank", "Funding Agencies Type": "State-owned Policy Bank",
    "Implementing Agencies": "China Henan International Cooperation Group Co., Ltd.",
    "Implementing Agencies Type": "Chinese State-owned Company"},
)  # fmt: skip

HYDROPOWER = gcdf_record(
    36216,
    Recipient="Uganda", **{"Recipient ISO-3": "UGA", "Commitment Year": 2014,
    "Title": "China Eximbank provides buyer's credit for the Isimba Hydropower Station",
    "Description": ("The station feeds the national backbone of the power grid; the telecommunication network "
                    "of the dam links the control rooms."),
    "Status": "Completion", "Flow Type": "Loan", "Sector Name": "ENERGY",
    "Funding Agencies": "China Eximbank", "Funding Agencies Type": "State-owned Policy Bank",
    "Implementing Agencies": "China International Water & Electric Corporation",
    "Implementing Agencies Type": "Chinese State-owned Company"},
)  # fmt: skip

KAMPALA = gcdf_record(
    59946,
    Recipient="Uganda", **{"Recipient ISO-3": "UGA", "Commitment Year": 2014,
    "Title": "Huawei donates video surveillance equipment to Kampala Capital City Authority",
    "Description": "Huawei gave surveillance cameras and a monitoring platform to help the city authority track crime.",
    "Status": "Completion", "Flow Type": "Grant", "Sector Name": "COMMUNICATIONS",
    "Funding Agencies": "Huawei Technologies Co., Ltd.", "Funding Agencies Type": "Chinese Private Sector",
    "Direct Receiving Agencies": "Kampala Capital City Authority", "Direct Receiving Agencies Type": "Recipient Government Agency",
    "Amount (Constant USD 2021)": 722813.4},
)  # fmt: skip

BELGRADE = gcdf_record(
    67789,
    Recipient="Serbia", **{"Recipient ISO-3": "SRB", "Commitment Year": 2017,
    "Title": "Huawei supports the Safe City Project in Belgrade",
    "Description": ("Serbia's Ministry of Interior and Huawei signed a strategic partnership for a Safe City "
                    "project in Belgrade: surveillance cameras with facial recognition software and an upgraded "
                    "command center and data center."),
    "Status": "Implementation", "Flow Type": "Vague TBD", "Sector Name": "GOVERNMENT AND CIVIL SOCIETY",
    "Funding Agencies": "Huawei Technologies Co., Ltd.", "Funding Agencies Type": "Chinese Private Sector",
    "Implementing Agencies": "Huawei Technologies Co., Ltd.|Serbian Ministry of Internal Affairs",
    "Implementing Agencies Type": "Chinese Private Sector|Recipient Government Agency"},
)  # fmt: skip

RELEASE_V1 = [ISLAMABAD, NAIROBI_MOMBASA, MEXICO_CITY_C5, KONZA, BANGLADESH_NDC, SMART_CLASSROOM, ROAD, HYDROPOWER]
KEPT_V1 = {"37016", "90001", "90002", "59366", "52654", "53843"}
# The second release adds two records and changes nothing else.
RELEASE_V2 = [*RELEASE_V1, KAMPALA, BELGRADE]
ADDED_V2 = {"59946", "67789"}


def workbook_bytes(records: list[dict], release: str = "3.0", columns: tuple[str, ...] = GCDF3_COLUMNS) -> bytes:
    """An xlsx in the release's shape: sheet GCDF_<release>, header row, one row per record."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"GCDF_{release}"
    sheet.append(list(columns))
    for record in records:
        unknown = set(record) - set(columns)
        if unknown:
            raise KeyError(f"not GCDF 3.0 columns: {sorted(unknown)}")
        sheet.append([record.get(c) for c in columns])
    out = io.BytesIO()
    workbook.save(out)
    return same_bytes_every_time(out.getvalue())


# Zip entries and workbook properties carry the time they were written: fixed here, so the same
# records always give the same bytes (a rerun replays identical payloads, as a real rerun would).
FIXED_TIME = datetime(2024, 1, 1)


def same_bytes_every_time(archive: bytes) -> bytes:
    """``archive`` rewritten with every entry, and the workbook's created/modified stamps (which
    openpyxl sets when it saves), dated FIXED_TIME."""
    source = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            fixed = zipfile.ZipInfo(item.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            target.writestr(fixed, data)
    return out.getvalue()


def release_zip(records: list[dict], release: str = "3.0", **kwargs) -> bytes:
    """The release zip: the workbook plus a small read-me, as AidData ships documentation alongside."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(WORKBOOK_NAME.replace("v3.0", f"v{release}"), workbook_bytes(records, release, **kwargs))
        archive.writestr("README.txt", f"Global Chinese Development Finance Dataset, version {release} (test fixture)\n")
    return same_bytes_every_time(out.getvalue())


def write_aiddata_replay(root: Path, records: list[dict], release: str = "3.0") -> Path:
    target = root / AIDDATA_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(release_zip(records, release))
    return root


# -- World Bank --------------------------------------------------------------------------------
def wb_row(number: str, signed: str, supplier: str, supplier_country: str, description: str, borrower: str,
           borrower_code: str, amount: int, project_id: str = "P160000", **extra: str) -> dict[str, str]:  # fmt: skip
    """One Socrata row: every value a string, timestamps as floating ISO, absent fields omitted."""
    row = {"as_of_date": "2021-07-06T00:00:00.000", "fiscal_year": "2021", "region": "AFRICA",
           "borrower_country": borrower, "borrower_country_code": borrower_code, "project_id": project_id,
           "project_name": extra.pop("project_name", "Digital Acceleration Project"),
           "procurement_type": "Not assigned", "procurement_category": extra.pop("procurement_category", "GOODS"),
           "procurement_method": "Request for Bids", "product_line": "IBRD/IDA", "major_sector": "Information and communications",
           "wb_contract_number": number, "contract_description": description,
           "contract_signing_date": f"{signed}T00:00:00.000", "supplier": supplier, "supplier_country": supplier_country,
           "supplier_country_code": "CN" if supplier_country == "China" else "XX",
           "supplier_contract_amount_usd": str(amount)}  # fmt: skip
    row.update(extra)
    return row


WB_ROWS = [
    wb_row("1700001", "2021-03-28", "CHINA NATIONAL ELECTRONICS IMPORT & EXPORT CORPORATION", "China",
           "PROCUREMENT OF ICT EQUIPMENT FOR COMMAND CONTROL ROOM (CCR)", "Bangladesh", "BD", 2659230,
           project_id="P161000"),
    wb_row("1700002", "2019-01-16", "HUAWEI INTERNATIONAL CO. LIMITED", "China",
           "SUPPLY AND INSTALLATION OF THE MISSING LINKS OF THE NATIONAL BACKBONE NETWORK", "Eastern Africa", "3E",
           15880000, project_id="P162000"),
    wb_row("1700003", "2019-06-19", "ZTE CORPORATION", "China",
           "DESIGN, SUPPLY AND COMMISSIONING OF ADVANCED METERING INFRASTRUCTURE", "Kenya", "KE", 12493053,
           project_id="P163000"),
    wb_row("1700004", "2020-05-22", "HUAWEI INTERNATIONAL CO. LIMITED", "China",
           "GOVERNMENT DATA CENTER AND E-GOVERNMENT PLATFORM", "Kenya", "KE", 9887017, project_id="P163000"),
    # a consortium: one row per member, the contract total repeated
    wb_row("1700005", "2020-08-09", "HUAWEI CONSORTIUM", "China",
           "SUPPLY OF 4G BASE STATIONS FOR RURAL MOBILE NETWORK", "Rwanda", "RW", 717412, project_id="P164000"),
    wb_row("1700005", "2020-08-09", "ACME RWANDA LTD", "Rwanda",
           "SUPPLY OF 4G BASE STATIONS FOR RURAL MOBILE NETWORK", "Rwanda", "RW", 717412, project_id="P164000"),
    # kept out: a road by a Chinese contractor, a Huawei namesake, a domestic contract in China
    wb_row("1700006", "2020-02-01", "CHINA HENAN INTERNATIONAL COOPERATION GROUP", "China",
           "UPGRADING OF THE ROAD SECTION LOT 2", "Ethiopia", "ET", 30000000, procurement_category="CIVIL WORKS"),
    wb_row("1700007", "2016-03-21", "WENZHOU HUAWEI IMPORT & EXPORT CO. LTD.", "China",
           "PROCUREMENT OF PORTABLE METER TESTERS", "Lao People's Democratic Republic", "LA", 792215),
    wb_row("1700008", "2020-06-17", "HANGZHOU H3C TECHNOLOGIES CO.,LTD.", "China",
           "INTEGRATED INTELLIGENT CONTROL CENTER AND DATA CENTER FOR SCENIC SPOTS", "China", "CN", 438621),
    # a registry cable maker selling power-grid parts: not digital infrastructure
    wb_row("1700010", "2018-02-11", "JIANGSU ZHONGTIAN TECHNOLOGY CO. LTD", "China",
           "PROCUREMENT OF INSULATORS FOR 132KV LINES", "Bangladesh", "BD", 1500000),
]
WB_KEPT = {"1700001", "1700002", "1700003", "1700004", "1700005"}
# The cursor after loading WB_ROWS (their latest signing date), and a contract signed after it.
WB_CURSOR = {"max_signing_date": "2021-03-28"}
WB_NEWER = wb_row("1700009", "2021-06-01", "ZTE CORPORATION", "China", "NATIONAL ID CARD PERSONALISATION SYSTEM",
                  "Ethiopia", "ET", 4000000)  # fmt: skip


def write_worldbank_replay(root: Path, rows: list[dict], since: date | None = None, page_size: int | None = None) -> Path:
    """Pages of ``rows`` at the URLs the source asks for (``page_size`` as the module's PAGE_SIZE)."""
    from dsrwatch.sources import worldbank_contracts as wb

    size = page_size or wb.PAGE_SIZE
    pages = [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]
    if len(pages[-1]) == size:
        pages.append([])  # a full last page makes the source ask for one more
    for number, page in enumerate(pages):
        target = root / url_to_relative_path(wb.page_url(since, number * size))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(page))
    return root


# -- GDELT ---------------------------------------------------------------------------------------
def article(url: str, title: str, seendate: str, domain: str, sourcecountry: str, language: str = "English") -> dict:
    return {"url": url, "url_mobile": "", "title": title, "seendate": seendate, "socialimage": "",
            "domain": domain, "language": language, "sourcecountry": sourcecountry}  # fmt: skip


LEAD_NAIROBI = article("https://news.example.co.ke/huawei-safe-city-expansion",
                       "Kenya extends Huawei safe city cameras beyond Nairobi", "20260107T081500Z",
                       "news.example.co.ke", "Kenya")  # fmt: skip
LEAD_ISLAMABAD_PUBLISHER = article("https://news.example.pk/islamabad-cameras",
                                   "Huawei CCTV cameras in the capital face new scrutiny", "20260108T120000Z",
                                   "news.example.pk", "Pakistan")  # fmt: skip
LEAD_UNRELATED = article("https://news.example.com/phones", "Huawei launches a new phone", "20260106T090000Z",
                         "news.example.com", "United States")  # fmt: skip


def write_gdelt_replay(root: Path, answers: dict[str, list[dict]], windows: list[tuple[datetime, datetime]]) -> Path:
    """One answer file per (window, query); ``answers`` maps a query key to its articles (same for
    every window; an absent key answers ``{}``, GDELT's "no matches")."""
    from dsrwatch.fetching import build_url
    from dsrwatch.sources import gdelt_leads as gd

    for start, end in windows:
        for key, query in gd.QUERIES.items():
            target = root / url_to_relative_path(build_url(gd.API_URL, gd.query_params(query, start, end)))
            target.parent.mkdir(parents=True, exist_ok=True)
            body = {"articles": answers[key]} if answers.get(key) else {}
            target.write_text(json.dumps(body, ensure_ascii=False))
    return root


# -- reference data --------------------------------------------------------------------------------
def seed_prc_registry(url: str) -> int:
    """core.prc_organisations from the registry seed (group = top of the parent chain), as the
    reference_data source loads it; returns the number of organisations."""
    from dsrwatch.reference.registry import load_registry

    entries = {e["id"]: e for e in load_registry()}

    def group(org_id: str) -> str:
        seen = set()
        while entries[org_id].get("parent") and org_id not in seen:
            seen.add(org_id)
            org_id = entries[org_id]["parent"]
        return org_id

    rows = [(e["id"], e["name"], e["jurisdiction"], e["ownership"], e.get("parent"), group(e["id"]),
             Jsonb(e.get("sectors") or [])) for e in entries.values()]  # fmt: skip
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO core.prc_organisations (organisation_id, name, jurisdiction, ownership, parent_id, group_id,
                                                   sectors)
               VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (organisation_id) DO NOTHING""",
            rows,
        )
    return len(rows)
