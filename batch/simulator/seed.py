"""The customers a stand-in starts with: generated from a seed, loaded from a file, or both.

Generated customers have varied, valid profiles in 20 countries (Unicode names, optional second
address lines, phones wherever the country requires one); the same seed gives the same
customers. A customers file is a JSON object `{customer_tenant_id: profile}` with the profile in
the API's camelCase shape, without links/attributes; it is loaded as it is (not validated, as
old real profiles may not pass today's rules) and `Simulator.export_state` writes the same format.
"""

from __future__ import annotations

import functools
import json
import random
import re
import string
import unicodedata
import uuid
from pathlib import Path

from batch.core.errors import ConfigError
from batch.simulator import rules
from batch.simulator.config import SimConfig, is_customer_id
from batch.simulator.store import Store

# country: culture, language, phone prefix, company suffix, cities (city, state, postal template),
# streets ("{n}" is the house number). Postal templates: "#" a digit, "@" a letter A-Z.
_COUNTRIES: dict[
    str, tuple[str, str, str, str, tuple[tuple[str, str, str], ...], tuple[str, ...]]
] = {
    "US": (
        "en-US",
        "en",
        "+1",
        "Inc.",
        (
            ("Redmond", "WA", "980##"),
            ("Boston", "MA", "021##"),
            ("Austin", "TX", "787##-####"),
            ("New York", "NY", "100##"),
            ("Denver", "CO", "802##"),
        ),
        ("{n} Microsoft Way", "{n} Main Street", "{n} Elm Avenue", "PO Box {n}"),
    ),
    "CA": (
        "en-CA",
        "en",
        "+1",
        "Ltd.",
        (
            ("Toronto", "ON", "M#@ #@#"),
            ("Montréal", "QC", "H#@ #@#"),
            ("Vancouver", "BC", "V#@ #@#"),
        ),
        ("{n} King Street West", "{n} rue Sainte-Catherine"),
    ),
    "GB": (
        "en-GB",
        "en",
        "+44",
        "Ltd",
        (("London", "", "EC#@ #@@"), ("Manchester", "", "M# #@@"), ("Edinburgh", "", "EH# #@@")),
        ("{n} High Street", "{n} Station Road", "{n} Mill Lane"),
    ),
    "DE": (
        "de-DE",
        "de",
        "+49",
        "GmbH",
        (("Berlin", "", "10###"), ("München", "", "80###"), ("Köln", "", "50###")),
        ("Hauptstraße {n}", "Schillerstraße {n}", "Am Markt {n}"),
    ),
    "FR": (
        "fr-FR",
        "fr",
        "+33",
        "SARL",
        (("Paris", "", "750##"), ("Lyon", "", "6900#"), ("Marseille", "", "130##")),
        ("{n} rue de la Paix", "{n} avenue Victor Hugo"),
    ),
    "NL": (
        "nl-NL",
        "nl",
        "+31",
        "B.V.",
        (("Amsterdam", "", "10## @@"), ("Utrecht", "", "35## @@"), ("Rotterdam", "", "30## @@")),
        ("Keizersgracht {n}", "Stationsplein {n}"),
    ),
    "ES": (
        "es-ES",
        "es",
        "+34",
        "S.L.",
        (("Madrid", "", "280##"), ("Barcelona", "", "080##")),
        ("Calle Mayor {n}", "Avenida de la Constitución {n}"),
    ),
    "IT": (
        "it-IT",
        "it",
        "+39",
        "S.r.l.",
        (("Milano", "", "201##"), ("Roma", "", "001##")),
        ("Via Roma {n}", "Corso Italia {n}"),
    ),
    "AU": (
        "en-AU",
        "en",
        "+61",
        "Pty Ltd",
        (("Sydney", "NSW", "20##"), ("Melbourne", "VIC", "30##")),
        ("{n} George Street", "{n} Collins Street"),
    ),
    "JP": (
        "ja-JP",
        "ja",
        "+81",
        "K.K.",
        (("東京", "", "1##-####"), ("大阪", "", "5##-####")),
        ("千代田区丸の内{n}丁目", "北区梅田{n}丁目"),
    ),
    "IN": (
        "en-IN",
        "en",
        "+91",
        "Pvt Ltd",
        (("Bengaluru", "KA", "560###"), ("Mumbai", "MH", "400###")),
        ("{n} MG Road", "{n} Linking Road"),
    ),
    "BR": (
        "pt-BR",
        "pt",
        "+55",
        "Ltda.",
        (("São Paulo", "SP", "01###-###"), ("Rio de Janeiro", "RJ", "20###-###")),
        ("Avenida Paulista, {n}", "Rua das Flores, {n}"),
    ),
    "PL": (
        "pl-PL",
        "pl",
        "+48",
        "Sp. z o.o.",
        (("Warszawa", "", "00-###"), ("Kraków", "", "30-###")),
        ("ul. Marszałkowska {n}", "ul. Floriańska {n}"),
    ),
    "HU": (
        "hu-HU",
        "hu",
        "+36",
        "Kft.",
        (("Budapest", "", "1###"), ("Debrecen", "", "40##")),
        ("Andrássy út {n}", "Váci utca {n}"),
    ),
    "UA": (
        "uk-UA",
        "uk",
        "+380",
        "TOV",
        (("Kyiv", "", "01###"), ("Lviv", "", "79###")),
        ("vul. Khreshchatyk {n}", "vul. Svobody {n}"),
    ),
    "SE": (
        "sv-SE",
        "sv",
        "+46",
        "AB",
        (("Stockholm", "", "1## ##"), ("Göteborg", "", "4## ##")),
        ("Drottninggatan {n}", "Kungsgatan {n}"),
    ),
    "CH": (
        "de-CH",
        "de",
        "+41",
        "AG",
        (("Zürich", "ZH", "80##"), ("Genève", "GE", "12##")),
        ("Bahnhofstrasse {n}", "Rue du Rhône {n}"),
    ),
    "IE": (
        "en-IE",
        "en",
        "+353",
        "DAC",
        (("Dublin", "", "D0# @#@#"), ("Cork", "", "T12 @#@#")),
        ("{n} Grafton Street", "{n} Patrick Street"),
    ),
    "MX": (
        "es-MX",
        "es",
        "+52",
        "S.A. de C.V.",
        (("Ciudad de México", "CDMX", "06###"), ("Guadalajara", "JAL", "44###")),
        ("Paseo de la Reforma {n}", "Avenida Juárez {n}"),
    ),
    "ZA": (
        "en-ZA",
        "en",
        "+27",
        "(Pty) Ltd",
        (("Johannesburg", "GP", "2###"), ("Cape Town", "WC", "8###")),
        ("{n} Long Street", "{n} Jan Smuts Avenue"),
    ),
}
_FIRST = (
    "Ana",
    "Björn",
    "Chloé",
    "Dmytro",
    "Eva",
    "François",
    "Grace",
    "Hiroshi",
    "Isabel",
    "Jürgen",
    "Kofi",
    "Łukasz",
    "María",
    "Nadia",
    "Oğuz",
    "Priya",
    "Quentin",
    "Rosa",
    "Søren",
    "Zoë",
)
_LAST = (
    "Anderson",
    "Bianchi",
    "Cohen",
    "Dubois",
    "Eriksson",
    "Fernández",
    "García",
    "Horváth",
    "Ivanenko",
    "Jansen",
    "Kowalski",
    "Müller",
    "Nakamura",
    "O'Brien",
    "Patel",
    "Santos",
    "Smith",
    "Tanaka",
    "van der Berg",
    "Zieliński",
)
_COMPANIES = (
    "Contoso",
    "Fabrikam",
    "Northwind Traders",
    "Tailspin Toys",
    "Wingtip Toys",
    "Adventure Works",
    "Litware",
    "Proseware",
    "Woodgrove",
    "Lucerne Publishing",
    "Alpine Ski House",
    "Coho Winery",
    "Fourth Coffee",
    "Trey Research",
    "Wide World Importers",
    "Blue Yonder Airlines",
    "Humongous Insurance",
    "Margie's Travel",
    "Southridge Video",
    "Graphic Design Institute",
)
_DIGITS = string.digits
_LETTERS = string.ascii_uppercase
_LINE2 = ("Suite {n}", "Floor {n}", "Building {n}", "Unit {n}")


def _fill(template: str, rng: random.Random) -> str:
    draw = rng.random  # much cheaper than randrange, and 100,000 customers draw a million times
    return "".join(
        _DIGITS[int(draw() * 10)] if ch == "#" else _LETTERS[int(draw() * 26)] if ch == "@" else ch
        for ch in template
    )


@functools.lru_cache(maxsize=256)
def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", plain.lower()) or "contact"


def generate(count: int, seed: int) -> dict[str, dict[str, object]]:
    """`count` customers with valid profiles, the same for the same seed; {id: profile}."""
    rng = random.Random(f"pcbatch-sim/{seed}/customers")
    countries = sorted(_COUNTRIES)
    customers: dict[str, dict[str, object]] = {}
    while len(customers) < count:
        customer_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        country = rng.choice(countries)
        culture, language, prefix, suffix, cities, streets = _COUNTRIES[country]
        city, state, postal = rng.choice(cities)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        company = f"{rng.choice(_COMPANIES)} {suffix}"
        address: dict[str, object] = {
            "country": country,
            "city": city,
            "addressLine1": rng.choice(streets).format(n=rng.randrange(1, 400)),
            "postalCode": _fill(postal, rng),
            "firstName": first,
            "lastName": last,
        }
        if state:
            address["state"] = state
        if rng.random() < 0.3:
            address["addressLine2"] = rng.choice(_LINE2).format(n=rng.randrange(1, 40))
        if country in rules.PHONE_REQUIRED or rng.random() < 0.7:
            address["phoneNumber"] = f"{prefix} {_fill('### ### ####', rng)}"
        customers[customer_id] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "firstName": first,
            "lastName": last,
            "email": f"{_ascii(first)}.{_ascii(last)}@{_ascii(company.split()[0])}.example",
            "culture": culture,
            "language": language,
            "companyName": company,
            "defaultAddress": address,
        }
    return customers


def load_customers_file(path: Path) -> dict[str, dict[str, object]]:
    """{customer_id: profile} from a customers file; ConfigError naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(f"cannot read the customers file {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"the customers file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"the customers file {path} must hold a JSON object {{customer_id: profile}}"
        )
    customers: dict[str, dict[str, object]] = {}
    for key, profile in data.items():
        customer_id = str(key).strip().strip("{}").lower()
        if not is_customer_id(customer_id):
            raise ConfigError(f"the customers file {path}: {key!r} is not a customer id (a GUID)")
        if not isinstance(profile, dict):
            raise ConfigError(f"the customers file {path}: the profile of {key} is not an object")
        customers[customer_id] = profile
    return customers


def build_store(config: SimConfig) -> Store:
    """The store a server starts with: the customers file's customers, then generated ones."""
    store = Store(config.seed)
    if config.customers_file is not None:
        for customer_id, profile in load_customers_file(config.customers_file).items():
            try:
                store.add(customer_id, profile)
            except rules.Refusal as exc:
                raise ConfigError(
                    f"the customers file {config.customers_file}, customer {customer_id}:"
                    f" {exc.description}"
                ) from exc
    for customer_id, profile in generate(config.customers, config.seed).items():
        store.add(customer_id, profile, canonical=True)
    return store
