"""The country rules Partner Center publishes, as it answers them, and state names by code.

PUBLISHED holds CountryValidationRules objects exactly as `GET /v1/countryvalidationrules/{iso2}`
answered them in captures that are public. Only captured answers are here: a country whose
answer was never published is left out rather than guessed (pcbatch then says it could not check
it offline, and `pcbatch validate --online` or `pcbatch run` asks the service). The stand-in
keeps its own copy of the service's answers (batch/simulator/market_rules.json) and checks
addresses with its own code; tests/test_simulator_independence.py compares the two copies.

Sources:
- US, GB, DE, CN: the recorded test answers of Microsoft's PartnerCenter PowerShell module
  (microsoft/Partner-Center-PowerShell, test/PowerShell.Tests/SessionRecords/
  GetCountryValidationRules-{US,GB,DE,CN}.json). The US list matches the REST docs' example
  ("Get address formatting rules by market", get-market-specific-validation-data).
- PT: an answer of the live service captured on 2021-12-15 in the debug output of
  microsoft/Partner-Center-PowerShell issue 383 (with `attributes.objectType`).
- Field names and meanings: REST docs "Country information resources", CountryValidationRules.

STATE_NAMES maps a state's or province's name (case-folded) to the code the service's list uses,
for countries whose lists are codes, so that a person who wrote "Washington" is told to write
"WA". Codes are ISO 3166-2 subdivision codes without the country prefix (CN: the two-letter
codes of ISO 3166-2:CN before 2017, which are the ones the service lists).
"""

from __future__ import annotations

# fmt: off
PUBLISHED: dict[str, dict[str, object]] = {
    "US": {
        "iso2Code": "US",
        "defaultCulture": "en-US",
        "isStateRequired": True,
        "supportedStatesList": [
            "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA", "ID",
            "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS", "MT", "NC",
            "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA", "RI", "SC", "SD",
            "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
        ],
        "supportedLanguagesList": ["en", "es"],
        "supportedCulturesList": ["en-US", "es-US"],
        "isPostalCodeRequired": True,
        "postalCodeRegex": r"^\d{5}(-\d{4})?$",
        "isCityRequired": True,
        "isVatIdSupported": False,
        "phoneNumberRegex": (
            r"^(1[ \-\/\.]?)?(\((\d{3})\)|(\d{3}))[ \-\/\.]?(\d{3})[ \-\/\.]?(\d{4})$"
        ),
        "isTaxIdSupported": True,
        "isTaxIdOptional": True,
        "countryCallingCodesList": ["1"],
    },
    "GB": {
        "iso2Code": "GB",
        "defaultCulture": "en-GB",
        "isStateRequired": False,
        "supportedStatesList": [],
        "supportedLanguagesList": ["en"],
        "supportedCulturesList": ["en-GB", "en-US"],
        "isPostalCodeRequired": True,
        "postalCodeRegex": (
            r"^([gG][iI][rR][ ]?0[aA]{2,2}|[a-zA-Z]([0-9][0-9a-zA-Z]?|[a-zA-Z][0-9][0-9a-zA-Z]?)"
            r"[ ]?[0-9][a-zA-Z]{2,2})$"
        ),
        "isCityRequired": True,
        "isVatIdSupported": True,
        "taxIdFormat": "GB#########",
        "vatIdRegex": r"^GB(([\d]{3,3}[\d]{4,4}[\d]{2,2}([\d]{3,3})?)|((GD|HA)[\d]{3,3}))$",
        "isTaxIdSupported": False,
        "isTaxIdOptional": True,
        "countryCallingCodesList": ["44"],
    },
    "DE": {
        "iso2Code": "DE",
        "defaultCulture": "de-DE",
        "isStateRequired": False,
        "supportedStatesList": [],
        "supportedLanguagesList": ["en", "de"],
        "supportedCulturesList": ["de-DE", "en-US"],
        "isPostalCodeRequired": True,
        "postalCodeRegex": r"^[0-9]{5,5}$",
        "isCityRequired": True,
        "isVatIdSupported": True,
        "taxIdFormat": "DE#########",
        "vatIdRegex": r"^DE[\d]{9,9}$",
        "isTaxIdSupported": False,
        "isTaxIdOptional": True,
        "countryCallingCodesList": ["49"],
    },
    "CN": {
        "iso2Code": "CN",
        "defaultCulture": "zh-CN",
        "isStateRequired": True,
        "supportedStatesList": [
            "AH", "BJ", "CQ", "FJ", "GD", "GS", "GX", "GZ", "HA", "HB", "HE", "HI", "HL", "HN",
            "JL", "JS", "JX", "LN", "NM", "NX", "QH", "SC", "SD", "SH", "SN", "SX", "TJ", "XJ",
            "XZ", "YN", "ZJ",
        ],
        "supportedLanguagesList": ["zh-CHS", "en"],
        "supportedCulturesList": ["zh-CN", "en-US"],
        "isPostalCodeRequired": True,
        "postalCodeRegex": r"^[0-9]{6,6}$",
        "isCityRequired": True,
        "isVatIdSupported": False,
        "isTaxIdSupported": False,
        "isTaxIdOptional": False,
        "countryCallingCodesList": ["86"],
    },
    "PT": {
        "iso2Code": "PT",
        "defaultCulture": "pt-PT",
        "isStateRequired": False,
        "supportedStatesList": [],
        "supportedLanguagesList": ["en", "pt-PT"],
        "supportedCulturesList": ["pt-PT", "en-US"],
        "isPostalCodeRequired": True,
        "postalCodeRegex": r"^\d{4}(-\d{3})?$",
        "isCityRequired": True,
        "isVatIdSupported": True,
        "taxIdFormat": "PT#########",
        "taxIdSample": "PT980152267",
        "vatIdRegex": r"^PT[\d]{9,9}$",
        "isTaxIdSupported": False,
        "isTaxIdOptional": False,
        "countryCallingCodesList": ["351"],
        "attributes": {"objectType": "CountryValidationRules"},
    },
}
# fmt: on

_US = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington DC": "DC", "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
_CA = {
    "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Newfoundland": "NL", "Nova Scotia": "NS",
    "Northwest Territories": "NT", "Nunavut": "NU", "Ontario": "ON",
    "Prince Edward Island": "PE", "Quebec": "QC", "Québec": "QC", "Saskatchewan": "SK",
    "Yukon": "YT",
}  # fmt: skip
_AU = {
    "Australian Capital Territory": "ACT", "New South Wales": "NSW", "Northern Territory": "NT",
    "Queensland": "QLD", "South Australia": "SA", "Tasmania": "TAS", "Victoria": "VIC",
    "Western Australia": "WA",
}  # fmt: skip
_CN = {
    "Anhui": "AH", "Beijing": "BJ", "Chongqing": "CQ", "Fujian": "FJ", "Guangdong": "GD",
    "Gansu": "GS", "Guangxi": "GX", "Guizhou": "GZ", "Henan": "HA", "Hubei": "HB",
    "Hebei": "HE", "Hainan": "HI", "Heilongjiang": "HL", "Hunan": "HN", "Jilin": "JL",
    "Jiangsu": "JS", "Jiangxi": "JX", "Liaoning": "LN", "Inner Mongolia": "NM",
    "Nei Mongol": "NM", "Ningxia": "NX", "Qinghai": "QH", "Sichuan": "SC", "Shandong": "SD",
    "Shanghai": "SH", "Shaanxi": "SN", "Shanxi": "SX", "Tianjin": "TJ", "Xinjiang": "XJ",
    "Tibet": "XZ", "Xizang": "XZ", "Yunnan": "YN", "Zhejiang": "ZJ",
    "安徽": "AH", "北京": "BJ", "重庆": "CQ", "福建": "FJ", "广东": "GD", "甘肃": "GS",
    "广西": "GX", "贵州": "GZ", "河南": "HA", "湖北": "HB", "河北": "HE", "海南": "HI",
    "黑龙江": "HL", "湖南": "HN", "吉林": "JL", "江苏": "JS", "江西": "JX", "辽宁": "LN",
    "内蒙古": "NM", "宁夏": "NX", "青海": "QH", "四川": "SC", "山东": "SD", "上海": "SH",
    "陕西": "SN", "山西": "SX", "天津": "TJ", "新疆": "XJ", "西藏": "XZ", "云南": "YN",
    "浙江": "ZJ",
}  # fmt: skip

STATE_NAMES: dict[str, dict[str, str]] = {
    country: {name.casefold(): code for name, code in names.items()}
    for country, names in (("US", _US), ("CA", _CA), ("AU", _AU), ("CN", _CN))
}
