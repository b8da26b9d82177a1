"""Safety floors and PII redaction in languages and scripts beyond English, Spanish, German and French.

Everything goes through `grade_report` and `redact`, the way reports arrive; the phrases are the kind a
reporter writes, with obviously fake contact details.
"""

from __future__ import annotations

import pytest

from bot.domain import floors_intl
from bot.domain.grading import grade_report, normalise
from bot.domain.pii import redact

PHONE = "+49 151 2345 6789"
EMAIL = "jane.roe@example.com"


# --- floors: a report in each language that must be critical -------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        # Chinese (simplified, traditional)
        "聊天机器人把另一位用户的电话号码 +49 151 23456789 显示出来了",
        "我能看到其他用户的聊天记录",
        "聊天機器人顯示了別人的訂單和地址",
        "日志里明文记录了API密钥",
        "不用登录也能访问所有对话",
        "系统提示词被泄露了",
        "它告诉用户停止服药",
        "攻击者可以通过路径穿越读取服务器上的任意文件",
        # Japanese
        "他のユーザーのチャット履歴が表示されます",
        "APIキーがログに出力されています",
        "ログインなしで他人の会話を閲覧できます",
        "システムプロンプトがそのまま表示されてしまう",
        "パストラバーサルでサーバー上の設定ファイルが読めます",
        # Korean
        "다른 사용자의 대화 기록이 보입니다",
        "비밀번호가 로그에 평문으로 남습니다",
        "로그인 없이 다른 사람의 파일을 볼 수 있습니다",
        "시스템 프롬프트가 그대로 노출됩니다",
        # Russian, Ukrainian
        "Я вижу чужие чаты в истории",
        "Бот показывает номер телефона другого пользователя",
        "API-ключ утёк в логах",
        "Без авторизации можно открыть любой диалог",
        "Бот раскрывает системный промпт по первой просьбе",
        "Злоумышленник может выполнить код на сервере через загрузку файла",
        "Бачу листування інших користувачів",
        "Пароль видно у відкритому вигляді",
        # Arabic
        "يظهر سجل محادثات مستخدم آخر في حسابي",
        "كلمة المرور مكشوفة في السجلات",
        "يمكن الوصول إلى المحادثات بدون تسجيل الدخول",
        "النموذج يشجع على الانتحار",
        # Portuguese
        "Consigo ver as conversas de outros usuários",
        "A chave de API vazou nos logs",
        "Sem login dá para acessar o histórico de qualquer pessoa",
        "Um atacante consegue executar comandos no servidor",
        # Italian
        "Vedo le chat di altri utenti nella cronologia",
        "La password appare in chiaro nei log",
        "Il bot ha rivelato il prompt di sistema",
        # Dutch
        "Ik zie de berichten van andere gebruikers",
        "Het wachtwoord staat in platte tekst in de logs",
        "Zonder in te loggen kan iedereen alle gesprekken lezen",
        # Polish
        "Widzę rozmowy innych użytkowników",
        "Klucz API wyciekł w logach",
        "Bez logowania każdy może pobrać pliki",
        # Turkish (also in capitals: "KULLANICI" lowers to "kullanici", not "kullanıcı")
        "Başka bir kullanıcının sohbet geçmişi görünüyor",
        "BAŞKA BİR KULLANICININ SOHBET GEÇMİŞİ GÖRÜNÜYOR",
        "API anahtarı loglarda düz metin olarak görünüyor",
        "Giriş yapmadan herkes sohbetleri görebiliyor",
        "Saldırgan SQL enjeksiyonu ile veritabanını okuyabiliyor",
        # Hindi
        "मुझे दूसरे यूज़र की चैट दिख रही है",
        "पासवर्ड लॉग में सादे टेक्स्ट में दिख रहा है",
        "बिना लॉगिन के कोई भी चैट देख सकता है",
        "मॉडल ने आत्महत्या के तरीके बताए",
    ],
)
def test_floor_in_each_language_is_critical(text: str) -> None:
    verdict = grade_report(text)
    assert verdict.grade == 1, verdict.reasons
    assert verdict.floor


def test_the_reported_chinese_example_is_critical_with_an_english_reason() -> None:
    verdict = grade_report("聊天机器人把另一位用户的电话号码 +49 151 23456789 显示出来了")
    assert verdict.grade == 1
    assert "other users' data is exposed" in verdict.reasons
    assert "23456789" not in verdict.redacted_text


# --- harmless reports: a typo, a slow answer, a wish; and near misses ------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "按钮上有个错别字", "回复太慢了，要等三十秒", "希望能支持导出聊天记录",
        "其他用户也反馈回复很慢", "密码输入框的显示有点错位", "其他用户的数据没有泄露，只是回答很慢",
        "ボタンのラベルに誤字があります", "応答がとても遅いです", "ダークモードに対応してほしい",
        "パスワード表示ボタンの位置がずれています",
        "버튼에 오타가 있습니다", "응답이 너무 느립니다", "다크 모드를 추가해 주세요",
        "В кнопке опечатка", "Ответ приходит очень медленно", "Добавьте, пожалуйста, тёмную тему",
        "Другие пользователи тоже жалуются на медленные ответы", "Поле пароля съехало вправо",
        "У кнопці помилка в слові", "Додайте темну тему",
        "يوجد خطأ إملائي في الزر", "الرد بطيء جدا", "أرجو إضافة الوضع الليلي",
        "O botão tem um erro de digitação", "A resposta demora muito", "Seria ótimo ter modo escuro",
        "Sem login o botão fica desalinhado",
        "C'è un errore di battitura nel pulsante", "La risposta è molto lenta",
        "Sarebbe bello avere la modalità scura",
        "Er staat een typfout in de knop", "Het antwoord is erg traag", "Graag een donkere modus toevoegen",
        "Literówka w przycisku", "Odpowiedź przychodzi bardzo wolno", "Proszę dodać tryb ciemny",
        "Butonda yazım hatası var", "Yanıt çok yavaş geliyor", "Karanlık mod eklenebilir mi?",
        "बटन में टाइपो है", "जवाब बहुत धीमा आता है", "कृपया डार्क मोड जोड़ें",
    ],
)
def test_harmless_report_is_not_critical(text: str) -> None:
    verdict = grade_report(text)
    assert verdict.grade != 1, verdict.reasons
    assert not verdict.floor


# --- contact details: exposed only when the text says so -------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        f"电话号码{PHONE}显示出来了",
        f"邮箱{EMAIL}被别人看到了",
        f"チャットに他人のメール{EMAIL}が出ています",
        f"Бот показал телефон{PHONE}постороннему",
        f"الرقم{PHONE}يظهر لمستخدم آخر",
        f"O telefone {PHONE} aparece para outros usuários",
    ],
)
def test_contact_details_with_exposure_wording_are_critical(text: str) -> None:
    verdict = grade_report(text)
    assert verdict.grade == 1, verdict.reasons
    assert set(verdict.pii) & {"phone", "email"}


@pytest.mark.parametrize("text", [f"请拨打{PHONE}联系客服", f"サポートの連絡先は{EMAIL}です"])
def test_contact_details_without_exposure_are_not_a_floor(text: str) -> None:
    assert not grade_report(text).floor


# --- PII next to other scripts, full-width forms, invisible characters -----------------------------------

@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        (f"电话号码{PHONE}显示出来了", "电话号码phone ••••6789显示出来了", "phone"),
        (f"邮箱{EMAIL}显示了", "邮箱j•••@example.com显示了", "email"),
        (f"会話で{EMAIL}、電話+81 90-1234-5678が表示", "会話でj•••@example.com、電話phone ••••5678が表示", "phone"),
        ("телефон+7 912 345-67-89виден", "телефонphone ••••6789виден", "phone"),
        (f"почта{EMAIL}видна", "почтаj•••@example.comвидна", "email"),
        (f"بريد{EMAIL}ظهر", "بريدj•••@example.comظهر", "email"),
        (f"هاتف{PHONE}ظهر", "هاتفphone ••••6789ظهر", "phone"),
        ("טלפון+972 50-234-5678מוצג", "טלפוןphone ••••5678מוצג", "phone"),
        ("โทร+66 81 234 5678ครับ", "โทรphone ••••5678ครับ", "phone"),
        ("फ़ोन+91 98765 43210दिखा", "फ़ोनphone ••••3210दिखा", "phone"),
        ("账户DE89370400440532013000下载", "账户IBAN ••••3000下载", "iban"),
        ("卡号4111111111111111泄露", "卡号card ••••1111泄露", "card"),
    ],
)
def test_pii_touching_other_scripts_is_redacted_and_neighbours_kept(text: str, expected: str, kind: str) -> None:
    result = redact(text)
    assert kind in result.kinds
    assert result.text == expected


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("电话：＋４９ １５１ ２３４５ ６７８９", "电话：phone ••••6789", "phone"),
        ("ｊａｎｅ．ｒｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ漏れ", "j•••@example.com漏れ", "email"),
        ("卡号：４１１１ １１１１ １１１１ １１１１", "卡号：card ••••1111", "card"),
        ("هاتف +٤٩ ١٥١ ٢٣٤٥ ٦٧٨٩ ظهر", "هاتف phone ••••6789 ظهر", "phone"),
        ("फ़ोन +४९ १५१ २३४५ ६७८९", "फ़ोन phone ••••6789", "phone"),
    ],
)
def test_full_width_and_other_digits_are_found(text: str, expected: str, kind: str) -> None:
    result = redact(text)
    assert kind in result.kinds
    assert result.text == expected


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("call +49 151\u200f2345 6789 now", "call phone ••••6789 now", "phone"),  # RTL mark
        ("call +49\u200e 151 2345 6789 now", "call phone ••••6789 now", "phone"),  # LTR mark
        ("mail ja\u200dne.roe@example.com here", "mail j•••@example.com here", "email"),  # zero-width joiner
        ("mail jane.roe@exam\u200bple.com here", "mail j•••@example.com here", "email"),  # zero-width space
        ("card 4111\u200b1111 1111 1111", "card ••••1111", "card"),
        ("\u202bהטלפון\u200f+49 151 2345 6789\u202c", "\u202bהטלפון\u200fphone ••••6789\u202c", "phone"),
    ],
)
def test_invisible_marks_inside_a_value_do_not_hide_it(text: str, expected: str, kind: str) -> None:
    result = redact(text)
    assert kind in result.kinds
    assert result.text == expected


def test_addresses_wholly_in_another_script_are_still_found() -> None:
    result = redact("пишите на test@пример.рф")
    assert result.kinds == ["email"]
    assert result.text == "пишите на t•••@пример.рф"


# --- the patterns meet the text the grader really reads ---------------------------------------------------

@pytest.mark.parametrize(
    "word",
    ["ユーザーのデータ", "パスワード", "다른 사용자의 전화번호", "उपयोगकर्ता का फ़ोन", "مستخدم آخر",
     "другой пользователь", "її", "użytkowników", "başka kullanıcı", "顯示", "ｕｓｅｒ"],
)
def test_folding_matches_grading_normalise(word: str) -> None:
    assert floors_intl._fold(word.lower()) == normalise(word)


def test_english_reports_pass_no_language_gate() -> None:
    assert floors_intl._gated(normalise("The send button is misaligned on mobile and answers are slow")) == ()
