"""Header names in seven languages, unknown columns that look like fields, house numbers. Pure."""

import pytest

from batch.core.fields import (
    HEADER_NAMES,
    HOUSE_NUMBER_AFTER,
    HOUSE_NUMBER_FIRST,
    INPUT_FIELDS,
    field_for_header,
    join_house_number,
    normalise_header,
    resembled_field,
)


@pytest.mark.parametrize(
    ("header", "normalised"),
    [
        ("Straße", "strasse"),
        ("STRASSE", "strasse"),
        ("Código Postal", "codigopostal"),
        ("Téléphone", "telephone"),
        ("Città", "citta"),
        ("Endereço linha 1", "enderecolinha1"),
        ("Zip/Postal Code", "zippostalcode"),
        ("E-Mail-Adresse", "emailadresse"),
        ("Nº", "no"),
        ("Город", "город"),  # other scripts keep their letters
        ("Post\u200bcode\u00a0", "postcode"),  # invisible characters are no letters
    ],
)
def test_headers_are_normalised_unicode_aware(header, normalised):
    assert normalise_header(header) == normalised


@pytest.mark.parametrize(
    ("header", "field"),
    [
        # English variants
        ("Address", "address_line1"),
        ("Zip/Postal Code", "postal_code"),
        ("Country/Region", "country"),
        ("State/Province", "state"),
        ("E-mail Address", "email"),
        # Dutch
        ("Klant-ID", "customer_id"),
        ("Straat", "address_line1"),
        ("Huisnummer", "house_number"),
        ("Postcode", "postal_code"),
        ("Plaats", "city"),
        ("Land", "country"),
        ("Telefoonnummer", "phone_number"),
        ("Bedrijfsnaam", "company_name"),
        ("Voornaam", "first_name"),
        ("Achternaam", "last_name"),
        # German
        ("Kunden-ID", "customer_id"),
        ("Straße", "address_line1"),
        ("Hausnummer", "house_number"),
        ("PLZ", "postal_code"),
        ("Ort", "city"),
        ("Bundesland", "state"),
        ("E-Mail-Adresse", "email"),
        ("Firmenname", "company_name"),
        ("Nachname", "last_name"),
        # French
        ("ID client", "customer_id"),
        ("Adresse", "address_line1"),
        ("Complément d'adresse", "address_line2"),
        ("Code postal", "postal_code"),
        ("Ville", "city"),
        ("Pays", "country"),
        ("Téléphone", "phone_number"),
        ("Société", "company_name"),
        ("Prénom", "first_name"),
        # Spanish
        ("ID de cliente", "customer_id"),
        ("Dirección", "address_line1"),
        ("Código postal", "postal_code"),
        ("Ciudad", "city"),
        ("País", "country"),
        ("Teléfono", "phone_number"),
        ("Correo electrónico", "email"),
        ("Apellidos", "last_name"),
        # Italian
        ("ID cliente", "customer_id"),
        ("Indirizzo", "address_line1"),
        ("Numero civico", "house_number"),
        ("CAP", "postal_code"),
        ("Città", "city"),
        ("Provincia", "state"),
        ("Ragione sociale", "company_name"),
        ("Cognome", "last_name"),
        # Portuguese
        ("ID do cliente", "customer_id"),
        ("Endereço", "address_line1"),
        ("Complemento", "address_line2"),
        ("CEP", "postal_code"),
        ("Cidade", "city"),
        ("Telefone", "phone_number"),
        ("Razão social", "company_name"),
        ("Sobrenome", "last_name"),
    ],
)
def test_every_language_names_its_fields(header, field):
    found = field_for_header(header)
    assert found is not None and found.name == field


def test_every_field_has_names_in_every_language_table_and_no_name_means_two_fields():
    assert {f.name for f in INPUT_FIELDS} == set(HEADER_NAMES)
    seen: dict[str, str] = {}
    for name, headers in HEADER_NAMES.items():
        for header in headers:
            key = normalise_header(header)
            assert seen.setdefault(key, name) == name, f"{header} names {seen[key]} and {name}"


@pytest.mark.parametrize(
    ("header", "like"),
    [
        ("Rechnungsadresse", "address_line1"),  # billing address: holds "adresse"
        ("Street Name", "address_line1"),
        ("Toevoeging", "house_number"),  # Dutch house-number suffix
        ("Klantnummer", "customer_id"),
        ("Customer Name", "customer_id"),
        ("Contry", "country"),  # a typo
        ("County", "country"),
        ("Postl Code", "postal_code"),
        ("Mobile", "phone_number"),
        ("Fax", "phone_number"),
        ("Work E-mail", "email"),
    ],
)
def test_an_unknown_header_that_looks_like_a_field_is_recognised(header, like):
    assert field_for_header(header) is None
    assert resembled_field(header) == like


@pytest.mark.parametrize(
    "header",
    ["Notes", "Comments", "error", "Account Manager", "Status", "Import date", "Amount",
     "Opmerkingen", "Bemerkung", "Remarque", "Segment", "Reseller", "Sort order", "ID"],
)  # fmt: skip
def test_other_unknown_headers_look_like_no_field(header):
    assert resembled_field(header) is None


@pytest.mark.parametrize(
    ("street", "number", "country", "line"),
    [
        ("Hoofdstraat", "12", "NL", "Hoofdstraat 12"),
        ("Hauptstraße", "5a", "DE", "Hauptstraße 5a"),
        ("Via Roma", "10", "IT", "Via Roma 10"),
        ("Calle Mayor", "5", "ES", "Calle Mayor, 5"),
        ("Rua Augusta", "100", "BR", "Rua Augusta, 100"),
        ("Main Street", "1200", "US", "1200 Main Street"),
        ("rue de Rivoli", "10", "FR", "10 rue de Rivoli"),
        ("Baker Street", "221B", "GB", "221B Baker Street"),
    ],
)
def test_a_house_number_is_joined_the_way_the_country_writes_it(street, number, country, line):
    assert join_house_number(street, number, country) == line


def test_a_country_whose_order_is_not_known_is_not_guessed():
    assert join_house_number("Chome", "4-3-2", "JP") is None
    assert not HOUSE_NUMBER_FIRST & set(HOUSE_NUMBER_AFTER)
