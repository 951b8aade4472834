"""The input columns: header names in seven languages, where each field lands, and its limits.

Headers are matched after `normalise_header`: case folded (`ß` -> `ss`), accents dropped (NFKD
without its combining marks: `Straße` -> `strasse`, `Código postal` -> `codigopostal`), and
everything but letters and digits dropped (`Postal Code`, `postal_code` and `POSTALCODE` are one
header). `HEADER_NAMES` lists, per field, the names people give the column in English, Dutch,
German, French, Spanish, Italian and Portuguese, as they write them; the aliases are their
normalised forms. A field's `path` is its place in the billing-profile JSON (camelCase, as the
service answers). Lengths are the documented ones (utility-resources "Address"); the docs give no
length for city, state, postal code, region, phone, e-mail or company name.

`house_number` is an input column but not a profile field: address_checks.py joins it into
`address_line1` the way the row's country writes addresses (`HOUSE_NUMBER_FIRST`).

`resembled_field` tells whether an unknown header looks like one of these fields (an alias inside
it, a word of a field, or a near spelling by difflib): the loader refuses such a column rather
than send half an address.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """One input column: its name (README, the report), header aliases, JSON path, limits."""

    name: str
    aliases: tuple[str, ...]
    path: tuple[str, ...]
    max_len: int | None = None
    required: bool = False  # the service refuses a profile without it: clearing it is invalid


CUSTOMER_ID = "customer_id"
HOUSE_NUMBER = "house_number"

# field -> header names as people write them: English (several variants), Dutch, German,
# French, Spanish, Italian, Portuguese. Normalised when the module loads; no alias may name two
# fields (checked below).
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    CUSTOMER_ID: (
        "Customer ID", "Customer Tenant ID", "Tenant ID", "Microsoft ID", "Customer",
        "Customer GUID", "Microsoft Tenant ID", "Directory ID",
        "Klant-ID", "Klant ID", "Tenant-ID klant",
        "Kunden-ID", "Kunden ID", "Mandanten-ID",
        "ID client", "Identifiant client", "ID du client", "ID locataire",
        "ID de cliente", "ID del cliente", "ID de inquilino",
        "ID cliente", "ID tenant",
        "ID do cliente", "ID do locatário",
    ),
    "address_line1": (
        "Address Line 1", "Address 1", "Address", "Street", "Street Address", "Street 1",
        "Street Line 1", "Line 1", "Billing Address", "Billing Street",
        "Straat", "Straatnaam", "Adres", "Adresregel 1", "Adres 1", "Straat en huisnummer",
        "Straße", "Strasse", "Adresse", "Adresszeile 1", "Anschrift", "Straße und Hausnummer",
        "Straße + Hausnummer", "Straße/Hausnummer",
        "Rue", "Adresse ligne 1", "Ligne d'adresse 1", "Adresse 1", "Voie",
        "Dirección", "Calle", "Dirección 1", "Línea de dirección 1", "Domicilio",
        "Indirizzo", "Via", "Indirizzo 1", "Riga indirizzo 1",
        "Endereço", "Rua", "Logradouro", "Endereço linha 1", "Morada",
    ),
    "address_line2": (
        "Address Line 2", "Address 2", "Street 2", "Street Line 2", "Line 2",
        "Adresregel 2", "Adres 2",
        "Adresszeile 2", "Adresszusatz", "Adresse 2",
        "Adresse ligne 2", "Ligne d'adresse 2", "Complément d'adresse",
        "Dirección 2", "Línea de dirección 2",
        "Indirizzo 2", "Riga indirizzo 2",
        "Endereço linha 2", "Endereço 2", "Complemento",
    ),
    "address_line3": (
        "Address Line 3", "Address 3", "Street 3", "Line 3",
        "Adresregel 3", "Adres 3", "Adresszeile 3", "Adresse 3",
        "Adresse ligne 3", "Ligne d'adresse 3",
        "Dirección 3", "Línea de dirección 3", "Indirizzo 3", "Riga indirizzo 3",
        "Endereço linha 3", "Endereço 3",
    ),
    HOUSE_NUMBER: (
        "House Number", "House No", "House Nr", "Street Number", "Building Number",
        "Huisnummer", "Huisnr", "Hausnummer", "Hausnr",
        "Numéro", "Numéro de rue", "Numéro de voie",
        "Número", "Número de calle", "Número exterior",
        "Numero civico", "Civico",
        "Número da porta", "Número de porta",
    ),
    "city": (
        "City", "Town", "Locality", "Town/City", "City/Town",
        "Plaats", "Woonplaats", "Stad", "Vestigingsplaats",
        "Ort", "Stadt", "Wohnort",
        "Ville", "Localité", "Commune",
        "Ciudad", "Localidad", "Población", "Municipio",
        "Città", "Comune", "Località",
        "Cidade", "Localidade", "Município", "Concelho",
    ),
    "state": (
        "State", "Province", "State/Province", "State or Province", "Province/State",
        "Provincie", "Bundesland", "Kanton", "Provincia", "Estado", "Distrito",
    ),
    "postal_code": (
        "Postal Code", "ZIP", "ZIP Code", "Postcode", "Post Code", "Zip/Postal Code",
        "Postal/Zip Code", "Postal Code/ZIP",
        "Postleitzahl", "PLZ",
        "Code postal",
        "Código postal", "Cód. postal",
        "CAP", "Codice postale", "Codice di avviamento postale",
        "CEP", "Código de endereçamento postal",
    ),
    "country": (
        "Country", "Country Code", "Country/Region", "Country or Region", "Country ISO",
        "Country (ISO)", "ISO Country Code",
        "Land", "Landcode", "Landnaam",
        "Ländercode", "Land (ISO)",
        "Pays", "Code pays", "Code du pays",
        "País", "Código de país", "Código del país",
        "Paese", "Nazione", "Codice paese", "Stato",
        "Código do país",
    ),
    "region": ("Region", "Regio", "Región", "Regione", "Região"),
    "phone_number": (
        "Phone", "Phone Number", "Telephone", "Telephone Number", "Tel", "Phone No",
        "Telefoon", "Telefoonnummer", "Telefoonnr", "Tel.nr",
        "Telefon", "Telefonnummer", "Rufnummer",
        "Téléphone", "Numéro de téléphone", "Tél",
        "Teléfono", "Número de teléfono",
        "Telefono", "Numero di telefono",
        "Telefone", "Número de telefone", "Contacto telefónico",
    ),
    "address_first_name": (
        "Address First Name", "Contact First Name",
        "Voornaam contactpersoon", "Ansprechpartner Vorname", "Vorname Ansprechpartner",
        "Prénom du contact", "Prénom contact", "Nombre del contacto", "Nome del contatto",
        "Nome do contato", "Nome do contacto",
    ),
    "address_last_name": (
        "Address Last Name", "Contact Last Name",
        "Achternaam contactpersoon", "Ansprechpartner Nachname", "Nachname Ansprechpartner",
        "Nom du contact", "Nom contact", "Apellido del contacto", "Cognome del contatto",
        "Sobrenome do contato", "Apelido do contacto",
    ),
    "first_name": (
        "First Name", "Given Name", "Forename",
        "Voornaam", "Vorname", "Prénom", "Nombre", "Nome", "Primeiro nome",
    ),
    "last_name": (
        "Last Name", "Surname", "Family Name",
        "Achternaam", "Nachname", "Familienname", "Nom", "Nom de famille",
        "Apellido", "Apellidos", "Cognome", "Sobrenome", "Apelido", "Último nome",
    ),
    "email": (
        "Email", "E-mail", "Email Address", "E-mail Address", "Mail",
        "E-mailadres", "E-mail adres", "E-Mail-Adresse",
        "Adresse e-mail", "Adresse électronique", "Courriel",
        "Correo electrónico", "Correo", "Dirección de correo electrónico",
        "Indirizzo email", "Posta elettronica",
        "Endereço de e-mail", "Endereço de email",
    ),
    "company_name": (
        "Company Name", "Company", "Organization", "Organisation", "Organization Name",
        "Organisation Name", "Business Name",
        "Bedrijf", "Bedrijfsnaam", "Organisatie",
        "Firma", "Firmenname", "Unternehmen", "Unternehmensname",
        "Société", "Entreprise", "Raison sociale", "Nom de l'entreprise", "Nom de la société",
        "Empresa", "Nombre de la empresa", "Razón social",
        "Azienda", "Ragione sociale", "Nome azienda", "Società",
        "Nome da empresa", "Razão social",
    ),
}  # fmt: skip

# Words that say a column is about an address, a contact or a customer, beyond the aliases:
# an unknown header holding one of them is refused (see resembled_field). Normalised forms.
_FIELD_WORDS: dict[str, tuple[str, ...]] = {
    CUSTOMER_ID: ("customer", "tenant", "klant", "kunde", "client", "cliente", "locataire"),
    "address_line1": (
        "address", "adres", "adresse", "street", "straat", "strasse", "direccion", "calle",
        "indirizzo", "endereco", "morada", "anschrift", "domicilio", "logradouro",
    ),
    HOUSE_NUMBER: ("housenumber", "huisnummer", "hausnummer", "toevoeging", "huisnr", "hausnr"),
    "city": ("city", "town", "stadt", "ville", "ciudad", "citta", "cidade", "plaats", "wohnort"),
    "state": ("state", "province", "provincie", "bundesland", "provincia"),
    "postal_code": ("postal", "postcode", "zip", "plz", "postleitzahl"),
    "country": ("country", "pays", "pais", "paese", "nazione"),
    "phone_number": ("phone", "telefo", "telepho", "tel", "fax", "mobile", "mobiel", "handy"),
    "email": ("email", "mail", "courriel", "correo"),
    "company_name": (
        "company", "bedrijf", "firma", "unternehmen", "societe", "entreprise", "empresa",
        "azienda", "organization", "organisation", "organisatie",
    ),
    "first_name": ("name", "naam", "vorname", "prenom", "nombre", "nome", "nom", "contact"),
}  # fmt: skip

_STREET_SOURCE = "address_line1"


def normalise_header(header: str) -> str:
    """`Straße ` -> `strasse`, `Código Postal` -> `codigopostal`: the form headers match in.

    Case folded (`ß` -> `ss`), compatibility-decomposed with the accents dropped, then only
    letters and digits kept (any script: Cyrillic or CJK headers keep their letters).
    """
    folded = unicodedata.normalize("NFKD", header.casefold())
    return "".join(c for c in folded if c.isalnum() and not unicodedata.combining(c))


def _aliases(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(normalise_header(n) for n in names))


FIELDS: tuple[Field, ...] = (
    Field(CUSTOMER_ID, _aliases(HEADER_NAMES[CUSTOMER_ID]), ()),
    Field(
        "address_line1",
        _aliases(HEADER_NAMES["address_line1"]),
        ("defaultAddress", "addressLine1"),
        max_len=200,
        required=True,
    ),
    Field(
        "address_line2",
        _aliases(HEADER_NAMES["address_line2"]),
        ("defaultAddress", "addressLine2"),
        max_len=200,
    ),
    Field(
        "address_line3",
        _aliases(HEADER_NAMES["address_line3"]),
        ("defaultAddress", "addressLine3"),
    ),
    Field("city", _aliases(HEADER_NAMES["city"]), ("defaultAddress", "city"), required=True),
    Field("state", _aliases(HEADER_NAMES["state"]), ("defaultAddress", "state")),
    Field(
        "postal_code",
        _aliases(HEADER_NAMES["postal_code"]),
        ("defaultAddress", "postalCode"),
        required=True,
    ),
    Field(
        "country",
        _aliases(HEADER_NAMES["country"]),
        ("defaultAddress", "country"),
        required=True,
    ),
    Field("region", _aliases(HEADER_NAMES["region"]), ("defaultAddress", "region")),
    Field(
        "phone_number",
        _aliases(HEADER_NAMES["phone_number"]),
        ("defaultAddress", "phoneNumber"),
    ),
    Field(
        "address_first_name",
        _aliases(HEADER_NAMES["address_first_name"]),
        ("defaultAddress", "firstName"),
        max_len=50,
    ),
    Field(
        "address_last_name",
        _aliases(HEADER_NAMES["address_last_name"]),
        ("defaultAddress", "lastName"),
        max_len=50,
    ),
    Field("first_name", _aliases(HEADER_NAMES["first_name"]), ("firstName",), max_len=50),
    Field("last_name", _aliases(HEADER_NAMES["last_name"]), ("lastName",), max_len=50),
    Field("email", _aliases(HEADER_NAMES["email"]), ("email",)),
    Field("company_name", _aliases(HEADER_NAMES["company_name"]), ("companyName",)),
)
# An input column that is no profile field: joined into address line 1 (address_checks.py).
HOUSE_NUMBER_FIELD = Field(HOUSE_NUMBER, _aliases(HEADER_NAMES[HOUSE_NUMBER]), (), max_len=200)
INPUT_FIELDS: tuple[Field, ...] = (*FIELDS, HOUSE_NUMBER_FIELD)

BY_NAME: dict[str, Field] = {f.name: f for f in INPUT_FIELDS}
UPDATABLE: tuple[Field, ...] = tuple(f for f in FIELDS if f.path)
_BY_ALIAS: dict[str, Field] = {alias: f for f in INPUT_FIELDS for alias in f.aliases}
assert len(_BY_ALIAS) == sum(len(f.aliases) for f in INPUT_FIELDS), "an alias names two fields"

# Countries whose addresses put the house number before the street (`12 Main Street`); those in
# HOUSE_NUMBER_AFTER put it after (`Hoofdstraat 12`), with a comma where the postal service
# writes one (`Calle Mayor, 5`; Correos, Correios). Source: each country's postal addressing
# rules as the Universal Postal Union's "Postal addressing systems" country sheets give them.
# A country in neither set: the row is refused (address_checks.py), never guessed.
HOUSE_NUMBER_FIRST: frozenset[str] = frozenset(
    {"US", "CA", "GB", "IE", "AU", "NZ", "FR", "LU", "MC", "ZA", "SG", "PR", "VI", "GU"}
)
HOUSE_NUMBER_AFTER: dict[str, str] = {
    **dict.fromkeys(
        ("NL", "BE", "DE", "AT", "CH", "LI", "DK", "SE", "NO", "FI", "IS", "PL", "CZ", "SK", "SI",
         "HR", "HU", "IT", "SM", "VA", "GR", "EE", "LV", "LT", "PT"),
        " ",
    ),
    **dict.fromkeys(("ES", "BR"), ", "),
}  # fmt: skip


def field_for_header(header: str) -> Field | None:
    """The field a header names (house_number included), or None for an unknown header."""
    return _BY_ALIAS.get(normalise_header(header))


def field_names() -> tuple[str, ...]:
    """Every name `--map` accepts: the input fields and house_number."""
    return tuple(f.name for f in INPUT_FIELDS)


def join_house_number(street: str, number: str, country: str) -> str | None:
    """`Hoofdstraat`, `12`, `NL` -> `Hoofdstraat 12`; `Main St`, `12`, `US` -> `12 Main St`.

    None when the country's order is not known here (the caller refuses the row).
    """
    if country in HOUSE_NUMBER_FIRST:
        return f"{number} {street}"
    separator = HOUSE_NUMBER_AFTER.get(country)
    return None if separator is None else f"{street}{separator}{number}"


_WORDS = re.compile(r"[^\W_]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_ALL_WORDS: list[tuple[str, str]] = [
    (word, name) for name, words in _FIELD_WORDS.items() for word in words
]
_ALL_ALIASES: dict[str, str] = {a: f.name for f in INPUT_FIELDS for a in f.aliases}
_LONG_ALIASES = [(a, n) for a, n in _ALL_ALIASES.items() if len(a) >= 5]


def resembled_field(header: str) -> str | None:
    """The field an unknown header looks like, or None: `Rechnungsadresse` -> address_line1.

    It looks like one when an alias of 5 or more letters is part of it (`Street Name` holds
    `street`), when difflib finds it within 0.8 of an alias (`Contry`, `Postl Code`), when one of
    its words is a field's word (_FIELD_WORDS: `Tel.`, `Mobile`) or holds one of 5 or more
    letters (`Kundennummer` holds `kunde`), or is within 0.85 of one. `Notes`, `Comments`,
    `Account manager` or `error` look like none.
    """
    normalised = normalise_header(header)
    if not normalised:
        return None
    for alias, name in _LONG_ALIASES:
        if alias in normalised:
            return name
    close = difflib.get_close_matches(normalised, _ALL_ALIASES, n=1, cutoff=0.8)
    if close:
        return _ALL_ALIASES[close[0]]
    words = [normalise_header(w) for w in _WORDS.findall(_CAMEL.sub(" ", header))]
    for word in words:
        for stem, name in _ALL_WORDS:
            if word == stem or (len(stem) >= 5 and stem in word):
                return name
    for word in words:
        if len(word) >= 5:
            near = difflib.get_close_matches(word, [s for s, _ in _ALL_WORDS], n=1, cutoff=0.85)
            if near:
                return next(n for s, n in _ALL_WORDS if s == near[0])
    return None


# Country names as people write them at the end of an address (English and the country's own
# languages), normalised: a street cell ending in one holds a whole address (address_checks.py).
_COUNTRY_NAMES_WRITTEN = (
    "Netherlands", "The Netherlands", "Nederland", "Holland", "Belgium", "België", "Belgique",
    "Belgien", "Germany", "Deutschland", "Austria", "Österreich", "Switzerland", "Schweiz",
    "Suisse", "Svizzera", "France", "Luxembourg", "Luxemburg", "Spain", "España", "Portugal",
    "Italy", "Italia", "United Kingdom", "UK", "Great Britain", "England", "Scotland", "Wales",
    "Ireland", "Éire", "United States", "USA", "U.S.A.", "United States of America", "Canada",
    "Denmark", "Danmark", "Sweden", "Sverige", "Norway", "Norge", "Finland", "Suomi", "Iceland",
    "Poland", "Polska", "Czech Republic", "Czechia", "Česko", "Česká republika", "Slovakia",
    "Slovensko", "Hungary", "Magyarország", "Slovenia", "Slovenija", "Croatia", "Hrvatska",
    "Greece", "Romania", "România", "Bulgaria", "Estonia", "Eesti", "Latvia", "Latvija",
    "Lithuania", "Lietuva", "Turkey", "Türkiye", "Australia", "New Zealand", "South Africa",
    "Singapore", "Brazil", "Brasil", "Mexico", "México", "India", "Japan",
)  # fmt: skip
COUNTRY_NAMES: frozenset[str] = frozenset(normalise_header(n) for n in _COUNTRY_NAMES_WRITTEN)
