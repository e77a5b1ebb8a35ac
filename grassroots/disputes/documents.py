"""The written mediation agreement (人民调解协议书) as a DOCX file (python-docx).

Contents follow 人民调解法 第29条: the parties' basic facts; the main facts of the dispute,
the matters in dispute and each party's responsibility; what was agreed, and how and by
when it is to be performed; then a signature line for every party and the mediator, the
committee's seal and the date — the agreement takes effect when they have signed. Identity
numbers and phones are masked on the generated copy (个人信息保护法: the least needed); the
parties write their full details when signing.
"""

import io

from django.utils import timezone
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from grassroots.disputes.models import Agreement, Dispute
from grassroots.disputes.services import TIER_LABELS

SIDES = {1: "申请人", 2: "被申请人", 3: "第三人"}
FONT = "SimSun"


def committee_name(dispute: Dispute) -> str:
    unit = dispute.handling_region.name
    if dispute.tier == "community":
        return f"{unit}人民调解委员会"
    return f"{unit}{TIER_LABELS.get(dispute.tier, '')}"


def _font(doc: Document) -> None:
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)


def _heading(doc: Document, text: str) -> None:
    p = doc.add_paragraph()
    run = p.add_run(text)
    run.bold = True


def agreement_docx(dispute: Dispute) -> bytes:
    agreement: Agreement = dispute.agreement
    doc = Document()
    _font(doc)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run("人民调解协议书")
    run.bold = True
    run.font.size = Pt(20)
    number = doc.add_paragraph(f"编号：{dispute.number}")
    number.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    _heading(doc, "一、当事人基本情况")
    for party in dispute.parties.all():
        bits = [f"{SIDES.get(party.side, '当事人')}：{party.name}（{party.get_kind_display()}）"]
        if party.id_number:
            bits.append(("身份证号：" if party.kind == "person" else "统一社会信用代码：") + str(party.id_number))
        if party.representative:
            bits.append(f"负责人：{party.representative}")
        if party.address:
            bits.append(f"住址：{party.address}")
        if party.phone:
            bits.append(f"联系电话：{party.phone}")  # sealed: the mask (lib.privacy)
        doc.add_paragraph("，".join(bits))

    _heading(doc, "二、纠纷的主要事实、争议事项")
    doc.add_paragraph(agreement.facts)
    if agreement.responsibilities:
        _heading(doc, "三、各方当事人的责任")
        doc.add_paragraph(agreement.responsibilities)
    n = "四" if agreement.responsibilities else "三"
    _heading(doc, f"{n}、经调解，当事人自愿达成如下协议")
    doc.add_paragraph(agreement.terms)
    m = "五" if agreement.responsibilities else "四"
    _heading(doc, f"{m}、履行方式和期限")
    doc.add_paragraph(f"履行方式：{agreement.performance}")
    doc.add_paragraph(f"履行期限：{agreement.perform_by:%Y年%m月%d日}前履行完毕。")
    doc.add_paragraph(
        "本协议自各方当事人签名、盖章或者按指印，人民调解员签名并加盖人民调解委员会印章之日起生效。"
        "本协议一式三份，当事人各执一份，人民调解委员会留存一份。"
        "经人民调解委员会调解达成的调解协议，具有法律约束力，当事人应当按照约定履行。"
        "双方当事人认为有必要的，可以自本协议生效之日起三十日内共同向人民法院申请司法确认。"
    )

    _heading(doc, "签名")
    table = doc.add_table(rows=0, cols=3)
    table.style = "Table Grid"
    signed = set(agreement.signed_by or [])
    for party in dispute.parties.all():
        row = table.add_row().cells
        row[0].text = f"{SIDES.get(party.side, '当事人')}（签名、盖章或按指印）"
        row[1].text = party.name if party.name in signed else ""
        row[2].text = "日期："
    row = table.add_row().cells
    row[0].text = "人民调解员（签名）"
    row[1].text = agreement.mediator_names if any(m in signed for m in agreement.mediator_names.split("、")) else ""
    row[2].text = "日期："
    doc.add_paragraph()
    seal = doc.add_paragraph(f"{committee_name(dispute)}（印章）")
    seal.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    when = agreement.effective_at or agreement.reached_at or timezone.now()
    day = doc.add_paragraph(f"{timezone.localtime(when):%Y年%m月%d日}")
    day.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    doc.core_properties.title = f"人民调解协议书 {dispute.number}"
    doc.core_properties.author = committee_name(dispute)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def docx_text(data: bytes) -> str:
    """All the text of a DOCX (paragraphs and table cells), for tests and previews."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)
