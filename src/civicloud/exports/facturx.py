"""Factur-X: an invoice or credit note as a PDF/A-3 carrying its CII XML (the format Chorus Pro takes).

The XML is the UN/CEFACT Cross-Industry Invoice at the Factur-X BASIC profile
(the lowest that carries invoice lines), written here with lxml and checked
against the profile's XSD by the ``factur-x`` library before it is embedded; the
human-readable PDF is drawn with fpdf2; ``facturx.generate_from_binary`` makes
it PDF/A-3 with the XML attached as ``factur-x.xml``.

The seller is the federation's operator (it invoices each borrower for what it
borrowed, and pays lenders what their statements say); the buyer is the member.
Parties are identified by SIRET (scheme 0009) where known, else SIREN (0002).
Work between public bodies at cost is outside the scope of VAT (CGI, art. 256 B):
lines carry VAT category E at 0 % with that reason; the operator states
otherwise in its own deployment if its lawyers say so (``VAT_EXEMPTION``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import facturx
from fpdf import FPDF
from lxml import etree

from civicloud.domain import Member
from civicloud.domain.billing import Line
from civicloud.errors import InvalidInput

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
BASIC = "urn:cen.eu:en16931:2017#compliant#urn:factur-x.eu:1p0:basic"
VAT_EXEMPTION = "Mise à disposition entre personnes publiques au prix coûtant, hors champ de la TVA (CGI art. 256 B)"
PAYMENT_DAYS = 30  # the public sector's legal payment period


@dataclass(frozen=True)
class Party:
    name: str
    siren: str
    siret: str | None = None

    @classmethod
    def of(cls, member: Member) -> Party:
        return cls(member.name, member.siren, member.siret)


@dataclass(frozen=True)
class InvoiceDoc:
    """What a Factur-X file says: a numbered document, its parties, its lines (already priced)."""

    number: str
    kind: str  # invoice | credit_note
    issued_on: date
    period_start: date
    period_end: date  # last day
    seller: Party
    buyer: Party
    lines: list[tuple[str, Decimal]]  # (description, amount)
    note: str = ""

    @property
    def total(self) -> Decimal:
        return sum((amount for _d, amount in self.lines), Decimal(0))


def describe(line: Line, names: dict[str, str]) -> str:
    q = line.quantities
    return (f"{names.get(line.offering_id, line.offering_id)} ({line.service_class.value}) — workload "
            f"{line.workload_id} on {names.get(line.lender_id, line.lender_id)}: {q.vcpu_hours:.2f} vCPU·h, "
            f"{q.ram_gib_hours:.2f} GiB·h, {q.disk_gib_months:.4f} GiB·month")


def cii_xml(doc: InvoiceDoc) -> bytes:
    """The CII XML at the BASIC profile; raises InvalidInput if the profile's XSD refuses it."""
    nsmap = {"rsm": RSM, "ram": RAM, "udt": UDT, "qdt": QDT}

    def el(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        node = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    def when(parent: etree._Element, tag: str, day: date) -> None:
        el(el(parent, RAM, tag), UDT, "DateTimeString", day.strftime("%Y%m%d"), format="102")

    def party(parent: etree._Element, tag: str, p: Party) -> None:
        node = el(parent, RAM, tag)
        el(node, RAM, "Name", p.name)
        legal = el(node, RAM, "SpecifiedLegalOrganization")
        if p.siret:
            el(legal, RAM, "ID", p.siret, schemeID="0009")
        else:
            el(legal, RAM, "ID", p.siren, schemeID="0002")
        el(el(node, RAM, "PostalTradeAddress"), RAM, "CountryID", "FR")

    root = etree.Element(f"{{{RSM}}}CrossIndustryInvoice", nsmap=nsmap)
    context = el(root, RSM, "ExchangedDocumentContext")
    el(el(context, RAM, "GuidelineSpecifiedDocumentContextParameter"), RAM, "ID", BASIC)
    header = el(root, RSM, "ExchangedDocument")
    el(header, RAM, "ID", doc.number)
    el(header, RAM, "TypeCode", "381" if doc.kind == "credit_note" else "380")
    when(header, "IssueDateTime", doc.issued_on)
    if doc.note:
        el(el(header, RAM, "IncludedNote"), RAM, "Content", doc.note)
    trade = el(root, RSM, "SupplyChainTradeTransaction")
    for n, (text, amount) in enumerate(doc.lines, start=1):
        item = el(trade, RAM, "IncludedSupplyChainTradeLineItem")
        el(el(item, RAM, "AssociatedDocumentLineDocument"), RAM, "LineID", str(n))
        el(el(item, RAM, "SpecifiedTradeProduct"), RAM, "Name", text)
        price = el(el(item, RAM, "SpecifiedLineTradeAgreement"), RAM, "NetPriceProductTradePrice")
        el(price, RAM, "ChargeAmount", f"{amount:.2f}")
        el(el(item, RAM, "SpecifiedLineTradeDelivery"), RAM, "BilledQuantity", "1", unitCode="C62")
        settlement = el(item, RAM, "SpecifiedLineTradeSettlement")
        tax = el(settlement, RAM, "ApplicableTradeTax")
        el(tax, RAM, "TypeCode", "VAT")
        el(tax, RAM, "CategoryCode", "E")
        el(tax, RAM, "RateApplicablePercent", "0")
        el(el(settlement, RAM, "SpecifiedTradeSettlementLineMonetarySummation"), RAM, "LineTotalAmount",
           f"{amount:.2f}")
    agreement = el(trade, RAM, "ApplicableHeaderTradeAgreement")
    party(agreement, "SellerTradeParty", doc.seller)
    party(agreement, "BuyerTradeParty", doc.buyer)
    el(trade, RAM, "ApplicableHeaderTradeDelivery")
    settle = el(trade, RAM, "ApplicableHeaderTradeSettlement")
    el(settle, RAM, "InvoiceCurrencyCode", "EUR")
    total = f"{doc.total:.2f}"
    tax = el(settle, RAM, "ApplicableTradeTax")
    el(tax, RAM, "CalculatedAmount", "0.00")
    el(tax, RAM, "TypeCode", "VAT")
    el(tax, RAM, "ExemptionReason", VAT_EXEMPTION)
    el(tax, RAM, "BasisAmount", total)
    el(tax, RAM, "CategoryCode", "E")
    el(tax, RAM, "RateApplicablePercent", "0")
    period = el(settle, RAM, "BillingSpecifiedPeriod")
    when(period, "StartDateTime", doc.period_start)
    when(period, "EndDateTime", doc.period_end)
    terms = el(settle, RAM, "SpecifiedTradePaymentTerms")
    when(terms, "DueDateDateTime", doc.issued_on + timedelta(days=PAYMENT_DAYS))
    sums = el(settle, RAM, "SpecifiedTradeSettlementHeaderMonetarySummation")
    el(sums, RAM, "LineTotalAmount", total)
    el(sums, RAM, "TaxBasisTotalAmount", total)
    el(sums, RAM, "TaxTotalAmount", "0.00", currencyID="EUR")
    el(sums, RAM, "GrandTotalAmount", total)
    el(sums, RAM, "DuePayableAmount", total)
    xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    try:
        facturx.xml_check_xsd(xml, flavor="factur-x", level="basic")
    except Exception as exc:  # the library raises a bare Exception naming the XSD error
        raise InvalidInput(f"the Factur-X XML of {doc.number} does not pass its schema: {exc}",
                           code="civicloud.billing.facturx_invalid") from exc
    return xml


def readable_pdf(doc: InvoiceDoc) -> bytes:
    """The page people read: parties, period, lines, total, VAT mention, payment term."""
    pdf = FPDF(format="A4")
    pdf.set_title(f"{'Avoir' if doc.kind == 'credit_note' else 'Facture'} {doc.number}")
    pdf.set_author(_latin(doc.seller.name))
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(f"{'Avoir' if doc.kind == 'credit_note' else 'Facture'} {doc.number}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for text in (f"Émise le {doc.issued_on:%d/%m/%Y} — période du {doc.period_start:%d/%m/%Y} au "
                 f"{doc.period_end:%d/%m/%Y}",
                 f"Vendeur : {doc.seller.name} (SIRET/SIREN {doc.seller.siret or doc.seller.siren})",
                 f"Acheteur : {doc.buyer.name} (SIRET/SIREN {doc.buyer.siret or doc.buyer.siren})"):
        pdf.multi_cell(0, 6, _latin(text), new_x="LMARGIN", new_y="NEXT")
    if doc.note:
        pdf.multi_cell(0, 6, _latin(doc.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    for text, amount in doc.lines:
        pdf.multi_cell(150, 5, _latin(text), new_x="RIGHT", new_y="TOP")
        pdf.cell(0, 5, f"{amount:.2f} EUR", align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 8, f"Total : {doc.total:.2f} EUR (TVA 0 %)", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(0, 4, _latin(f"{VAT_EXEMPTION}. Paiement à {PAYMENT_DAYS} jours, le "
                                f"{doc.issued_on + timedelta(days=PAYMENT_DAYS):%d/%m/%Y}."))
    return bytes(pdf.output())


def facturx_pdf(doc: InvoiceDoc) -> bytes:
    """The Factur-X file: the readable PDF made PDF/A-3, with the checked XML embedded."""
    xml = cii_xml(doc)
    return bytes(facturx.generate_from_binary(readable_pdf(doc), xml, flavor="factur-x", level="basic",
                                              check_xsd=True, lang="fr-FR"))


def _latin(text: str) -> str:
    """fpdf2's core fonts speak Windows-1252: keep what it can show, replace the rest."""
    return text.replace("·", ".").replace("—", "-").encode("cp1252", "replace").decode("cp1252")
