"""Safety floors in languages and scripts the English-first rules do not read.

Each pattern runs over `grading.normalise`d text (lower case, accents off). A match in FLOORS makes the
report grade 1 with its reason; LEAK_CONTEXT says that contact details in the report (an e-mail address,
a phone number) were shown where they should not be.

The words below are written as people type them. `_fold` then puts each pattern through the same
decomposition `grading.normalise` applies to the report (NFKD, combining marks dropped), so the written
form and the normalised text meet: Japanese ザ becomes サ (dakuten dropped), Korean syllables become
jamo, Devanagari loses virama and nukta, Arabic أ/إ/آ become ا, Russian й becomes и, Polish ą/ś/ż lose
their marks (ł stays). Patterns are written in lower case (Turkish ı is spelled `[ıi]`: "KULLANICI"
lowers to "kullanici").

Every floor needs two things near each other: *whose* data or *what* secret, and *that it was shown*. A
bare "user", "password" or "displayed" is never enough: a typo on the password field or a slow answer
for other users must not be graded critical.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache


def _fold(pattern: str) -> str:
    """The pattern as `grading.normalise` would leave the words in it (regex syntax is plain ASCII)."""
    decomposed = unicodedata.normalize("NFKD", pattern)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _near(a: str, b: str, gap: int) -> str:
    """`a` and `b` within `gap` characters of each other, in either order."""
    return rf"(?:{a}).{{0,{gap}}}(?:{b})|(?:{b}).{{0,{gap}}}(?:{a})"


@dataclass(frozen=True)
class _Words:
    """One language's words for each floor; every field is one regex alternation."""

    others: str  # "another user('s)", "someone else's", "other customers"
    data: str  # chats, history, messages, phone numbers, addresses, files …
    shown: str  # shown, displayed, visible, leaked, exposed, revealed, disclosed
    secret: str  # API key, password, token, credentials
    leaked: str  # leaked, in plain text, in the logs (stronger than "shown": a password *field* is shown)
    no_auth: str  # without logging in / without authentication
    access: str  # can see / open / read / download / delete
    unauthorised: str  # "unauthorised access" on its own
    system_prompt: str  # the system prompt / hidden instructions
    injection: str  # prompt injection, jailbreak
    weakness: str  # an attacker, path traversal, remote code execution, SQL or command injection
    harmful: str  # self-harm, hate speech, bomb making, dangerous medical advice
    # What any floor in this language needs somewhere in the text: its script (a character class), or for a
    # Latin-script language plain stems of its rarer words, "|"-separated, no regex syntax (one required part
    # of every floor above must contain one of them).
    gate: str
    scale: int = 1  # Korean syllables fold to two or three jamo each, so its gaps are wider


_LANGUAGES: dict[str, _Words] = {
    # Chinese, simplified and traditional. No spaces: no \b. 不/没/未/沒/無 right before a verb negate it.
    "zh": _Words(
        others=r"(?:其他|其它|别的|別的|另一(?:个|個|位|名)?|另外(?:一)?(?:个|個|位)?|陌生)(?:用户|用戶|客户|客戶|"
               r"顾客|顧客|人|会员|會員|账号|帳號|賬號|账户|帳戶|租户|租戶|患者|病人)|别人|別人|他人",
        data=r"数据|數據|资料|資料|聊天记录|聊天紀錄|聊天記錄|对话|對話|会话|會話|历史|歷史|记录|紀錄|記錄|消息|訊息|"
             r"信息|文件|檔案|邮件|郵件|邮箱|郵箱|订单|訂單|地址|电话|電話|手机号|手機號|照片|个人信息|個人資料|隐私|"
             r"隱私|病历|病歷",
        shown=r"(?<![不没未沒無])(?<!没有)(?<!沒有)(?:显示|顯示|看到|看见|看見|泄露|洩露|泄漏|洩漏|暴露|出现|出現|"
              r"可见|可見|公开|公開|展示|外泄|外洩|读取到|讀取到|访问到|訪問到)",
        secret=r"api ?(?:密钥|密鑰|秘钥|金钥|金鑰|key)|密钥|密鑰|秘钥|密码|密碼|令牌|凭证|憑證|凭据|憑據|私钥|私鑰|"
               r"访问码",
        leaked=r"(?<![不没未沒無])(?<!没有)(?<!沒有)(?:泄露|洩露|泄漏|洩漏|暴露|外泄|外洩)|明文|公开了|公開了|"
               r"(?:显示|顯示|出现|出現|打印|写入|寫入|记录|記錄)(?:在|到)(?:日志|日誌|页面|頁面|响应|回應|回复|回覆|"
               r"网址|網址|url)",
        no_auth=r"(?:无需|無需|不用|不需要|没有|沒有|未|不)(?:登录|登錄|登入|认证|認證|验证|驗證|授权|授權|令牌)|"
                r"(?:绕过|繞過|跳过|跳過)(?:登录|登錄|登入|身份验证|身份驗證|认证|認證|验证|驗證|鉴权|鑑權)",
        access=r"(?:也|就|都)?(?:能|可以|可)(?:看|访问|訪問|读取|讀取|下载|下載|删除|刪除|修改|打开|打開|进入|進入|"
               r"调用|調用)",
        unauthorised=r"未(?:经|經)?授权(?:的)?(?:访问|訪問)|未(?:经|經)?授權(?:的)?(?:访问|訪問)|越权访问|越權訪問",
        system_prompt=r"系统提示词|系統提示詞|系统提示|系統提示|系统指令|系統指令|系统prompt|系統prompt|隐藏指令|"
                      r"隱藏指令",
        injection=r"提示词注入|提示詞注入|提示注入|prompt ?注入|越狱|越獄",
        weakness=r"攻击者|攻擊者|路径穿越|路徑穿越|路径遍历|路徑遍歷|目录遍历|目錄遍歷|"
                 r"(?:远程|遠程|任意)(?:代码|代碼|命令)(?:执行|執行)|任意文件读取|任意檔案讀取|sql ?注入|命令注入|"
                 r"跨站脚本|跨站腳本",
        harmful=r"自杀|自殺|自残|自殘|自我伤害|自我傷害|仇恨言论|仇恨言論|种族歧视|種族歧視|"
                r"(?:制作|製作|制造|製造)(?:炸弹|炸彈|炸药|炸藥|毒品)|危险的(?:医疗|用药)?建议|"
                r"危險的(?:醫療|用藥)?建議|(?:停止|停掉)(?:服药|服藥|吃药|吃藥)|(?:过量|過量)服用|加倍(?:剂量|劑量)",
        gate=r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]",
    ),
    # Japanese. Negation is a suffix (表示されない), so verbs refuse a following ない/ません.
    "ja": _Words(
        others=r"(?:他|ほか|別|べつ)の(?:ユーザー?|利用者|人|お客様|顧客|アカウント|患者|会員)|他人|知らない人|第三者",
        data=r"データ|情報|個人情報|会話|チャット|履歴|メッセージ|電話番号|メールアドレス|メール|住所|注文|ファイル|"
             r"写真|カルテ",
        shown=r"(?:表示|見え|見られ|見れ|漏洩|流出|漏れ|露出|公開|閲覧でき|"
              r"出て)(?!(?:され|し|て)?(?:ない|なか|ません))",
        secret=r"api ?キー|apiキー|パスワード|トークン|認証情報|秘密鍵|シークレット|アクセスキー",
        leaked=r"(?:漏洩|流出|漏れ|丸見え|平文)(?!(?:され|し|て)?(?:ない|なか|ません))|ログに(?:出力|記録|表示|残)",
        no_auth=r"ログイン(?:なしで|せずに|しなくても|していなくても|不要で)|未ログイン(?:で|の状態で)|"
                r"認証(?:なしで|せずに|を回避|を迂回|をバイパス)",
        access=r"(?:見|閲覧|アクセス|ダウンロード|削除|編集|変更|操作)(?:でき|られ|れ)",
        unauthorised=r"不正アクセス|未認証(?:の|で)(?:アクセス|リクエスト)|認可(?:チェック)?が(?:ない|無い|抜けて)",
        system_prompt=r"システムプロンプト|システム指示|内部指示|隠し(?:プロンプト|指示)",
        injection=r"プロンプトインジェクション|脱獄|ジェイルブレイク",
        weakness=r"攻撃者|(?:パス|ディレクトリ)トラバーサル|(?:リモート|任意)コード実行|sql ?インジェクション|"
                 r"コマンドインジェクション|クロスサイトスクリプティング",
        harmful=r"自殺|自傷|ヘイトスピーチ|差別的な(?:発言|表現)|人種差別|爆弾の作り方|爆弾を作|"
                r"危険な(?:医療)?(?:アドバイス|助言)|薬を(?:やめ|止め)るように|過剰摂取",
        gate=r"[\u3040-\u30ff]",
    ),
    # Korean. Spaces between words; 안/않/못 negate (보이지 않습니다).
    "ko": _Words(
        others=r"다른 (?:사용자|유저|사람|고객|회원|계정|환자)|타인|남의|제3자",
        data=r"데이터|정보|개인정보|대화|채팅|기록|내역|메시지|전화번호|이메일|주소|주문|파일|사진",
        shown=r"(?<!안 )(?:보이|보여|보임|노출|유출|표시|공개|뜹니다|나타나|열람)(?!지 않|지 못)",
        secret=r"api ?키|비밀번호|패스워드|토큰|인증 ?정보|시크릿 ?키|비밀 ?키|개인 ?키|액세스 ?키",
        leaked=r"(?:노출|유출|평문)(?!되지 않|되지 못)|로그에 (?:찍|남|기록|출력)",
        no_auth=r"로그인 ?(?:없이|하지 않고|안 하고|안 해도)|비로그인|인증 ?(?:없이|우회|을 우회|을 건너)",
        access=r"(?:볼|접근할|접속할|열람할|다운로드할|삭제할|수정할) 수 있",
        unauthorised=r"무단 접근|권한 없는 접근|인가되지 않은 접근",
        system_prompt=r"시스템 ?프롬프트|시스템 ?지시|숨겨진 ?지시",
        injection=r"프롬프트 ?인젝션|프롬프트 ?주입|탈옥",
        weakness=r"공격자|경로 ?(?:탐색|조작) ?취약|디렉(?:터|토)리 ?트래버설|(?:원격|임의) ?코드 ?실행|sql ?인젝션|"
                 r"명령어? ?(?:인젝션|주입)",
        harmful=r"자살|자해|혐오 ?발언|인종 ?차별|폭탄 (?:만드는|제조)|위험한 (?:의료 )?조언|약을 끊으라|과다 ?복용",
        scale=3,
        gate=r"[\u1100-\u11ff\uac00-\ud7af]",
    ),
    # Russian and Ukrainian. й/ї fold to и/і; "не " right before a verb negates it.
    "ru_uk": _Words(
        others=r"\b(?:друг(?:ого|их|ой|ому|ие|им|ими)|чуж(?:ие|их|ой|ого|ую|ое|ая|им|і)|посторонн\w*|"
               r"інш(?:ого|их|ої|ому|і|им|ими)|сторонн\w*) ?(?:пользовател\w*|клиент\w*|человек\w*|люд\w*|"
               r"користувач\w*|клієнт\w*|аккаунт\w*|акаунт\w*|пациент\w*|пацієнт\w*)?",
        data=r"\b(?:данн\w*|дан(?:і|их)|переписк\w*|листуванн\w*|чат\w*|истори\w*|істор\w*|сообщени\w*|повідомлен\w*|"
             r"номер\w*|телефон\w*|адрес\w*|почт\w*|пошт\w*|заказ\w*|замовлен\w*|файл\w*|диалог\w*|діалог\w*|фото\w*)",
        shown=r"(?<!не )\b(?:видн\w*|вижу|видим\w*|видел\w*|виден|показ\w*|отобража\w*|відобража\w*|бачу|бачимо|"
              r"бачать|видно|утечк\w*|утек\w*|утік|витік|витек\w*|слил\w*|злит\w*|злив\w*|раскры\w*|розкри\w*|"
              r"засвет\w*|доступн\w*)",
        secret=r"\b(?:api[- ]?ключ\w*|ключ\w* api|пароль|пароли|паролі|парол[яюе]\w*|токен\w*|секретн\w* ключ\w*|"
               r"приватн\w* ключ\w*|учетн\w* данн\w*|облікові дані|облікових даних)",
        leaked=r"(?<!не )\b(?:утек\w*|утечк\w*|утік|витік|слил\w*|злит\w*|раскры\w*|розкри\w*|засвет\w*)|"
               r"в открытом виде|у відкритому вигляді|(?:в|у) логах|(?:в|у) лог(?:и|ы)",
        no_auth=r"\bбез (?:авторизаци\w*|авторизації|входа|входу|логина|логіна|аутентификаци\w*|автентифікаці\w*|"
                r"пароля|токена)|\bне (?:входя|залогинив\w*|авторизувавш\w*)|"
                r"\b(?:обход\w*|обійти|обхід) (?:авторизаци\w*|авторизації|аутентификаци\w*|автентифікаці\w*)",
        access=r"\b(?:доступ\w*|видеть|увидеть|посмотреть|открыть|прочитать|скачать|удалить|изменить|зайти|получить|"
               r"бачити|побачити|відкрити|прочитати|завантажити|видалити|змінити|кто угодно|будь-хто|любой|будь-який)",
        unauthorised=r"\b(?:неавторизованн\w*|несанкционированн\w*|неавторизован\w*) доступ\w*",
        system_prompt=r"\bсистемн\w* (?:промпт\w*|промт\w*|подсказк\w*|инструкци\w*|інструкці\w*)",
        injection=r"\b(?:промпт|промт)[- ]?инъекци\w*|\bинъекци\w* (?:промпт\w*|промт\w*)|"
                  r"\bін'?єкці\w* (?:промпт\w*|промт\w*)|\bджейлбрейк\w*",
        weakness=r"\b(?:злоумышленник\w*|зловмисник\w*|атакующ\w*)|"
                 r"\b(?:удаленн\w* выполнени\w*|віддален\w* виконанн\w*) коду?|\bобход\w* (?:каталог\w*|директори\w*)|"
                 r"\bsql[- ]?(?:инъекци\w*|ін'?єкці\w*)|\bинъекци\w* команд",
        harmful=r"\b(?:суицид\w*|самоубийств\w*|самогубств\w*|самоповрежд\w*|самоушкодж\w*|расизм\w*|расист\w*|"
                r"передозировк\w*|передозуванн\w*)|язык\w* вражды|разжигани\w* ненависти|мов\w* ворожнеч\w*|"
                r"как (?:сделать|собрать) бомбу|як зробити бомбу|опасн\w* (?:медицинск\w* )?совет\w*|"
                r"небезпечн\w* (?:медичн\w* )?порад\w*|(?:бросить|перестать|прекратить) принимать (?:лекарств|"
                r"препарат)\w*",
        gate=r"[\u0400-\u04ff]",
    ),
    # Arabic. Prefixes (ال، و، ب، ل) join the word, so no \b; أ/إ/آ are written as ا.
    "ar": _Words(
        others=r"(?:ال)?(?:مستخدم|مستخدمين|مستخدمون|عميل|عملاء|شخص|اشخاص|مريض|مرضى)(?:ال)? ?(?:اخر|اخرين|اخرون|اخري)|"
               r"الاخرين|غيري",
        data=r"بيانات|محادثات|محادثة|رسائل|سجل|ارقام|رقم|هاتف|بريد|عنوان|عناوين|ملفات|طلبات|معلومات|صور",
        shown=r"(?<!لا )(?<!لم )(?:يظهر|تظهر|ظهرت|ظهر|يعرض|تعرض|عرض|تسريب|تسرب|مسرب|مكشوف|كشف|مرئي|مرئية|ارى|رايت|"
              r"اطلعت)",
        secret=r"(?:مفتاح|مفاتيح) ?(?:ال)?(?:api|واجهة)|كلم(?:ة|ات) (?:ال)?(?:مرور|سر)|رمز (?:ال)?وصول|(?:ال)?توكن|"
               r"بيانات (?:ال)?اعتماد|المفتاح السري|مفتاح سري|المفتاح الخاص",
        leaked=r"(?<!لا )(?<!لم )(?:تسرب|تسريب|مسرب|مكشوف|انكشف)|نص (?:عادي|واضح|صريح)|في (?:ال)?سجلات",
        no_auth=r"(?:بدون|دون|من غير) (?:تسجيل (?:ال)?دخول|مصادقة|كلمة مرور|توكن|صلاحيات)|"
                r"تجاوز (?:ال)?(?:مصادقة|تسجيل (?:ال)?دخول)",
        access=r"(?:ال)?وصول|يمكن|يستطيع|رؤية|قراءة|حذف|تعديل|تحميل|اي شخص|اي احد",
        unauthorised=r"وصول غير مصرح|دخول غير مصرح",
        system_prompt=r"(?:موجه|تعليمات|برومبت|اوامر) (?:ال)?نظام",
        injection=r"حقن (?:ال)?(?:موجه|موجهات|اوامر|تعليمات|برومبت)|كسر (?:ال)?حماية",
        weakness=r"(?:ال)?مهاجم|اجتياز (?:ال)?مسار|تنفيذ (?:ال)?(?:تعليمات البرمجية|شيفرة|كود) عن بعد|حقن sql",
        harmful=r"انتحار|ايذاء (?:ال)?نفس|خطاب (?:ال)?كراهية|عنصري|عنصرية|صنع (?:قنبلة|متفجرات)|"
                r"نصيح(?:ة|ة طبية|ه) خطيرة|نصائح (?:طبية )?خطيرة|جرعة زائدة|التوقف عن تناول (?:ال)?دواء",
        gate=r"[\u0600-\u06ff]",
    ),
    # Portuguese (Brazil and Portugal).
    "pt": _Words(
        others=r"\bde (?:outros?|outras?|um outro|uma outra|terceiros)(?: \w+)? (?:usuari|utilizador|client|pessoa|"
               r"paciente|conta)\w*|\boutros? (?:usuari|utilizador|client|paciente)\w*|\boutra pessoa|\balhei[oa]s?\b",
        data=r"\b(?:dados|conversas?|mensagens|historico|informacoes|telefones?|numeros?|e-?mails?|enderecos?|pedidos|"
             r"arquivos|ficheiros|documentos|chats?|fotos)\b",
        shown=r"(?<!nao )\b(?:vejo|(?:consigo|posso|podemos|conseguimos|da pra|da para) ver|veem|aparec\w*|mostr\w*|"
              r"exib\w*|vaz\w*|expost\w*|visive(?:l|is)|revel\w*|divulg\w*)\b",
        secret=r"\b(?:chaves? (?:de |da )?api|api ?keys?|senhas?|tokens?|credenciais|chaves? secretas?|"
               r"chaves? privadas?)\b",
        leaked=r"(?<!nao )\b(?:vaz\w*|expost\w*|divulgad\w*|publicad\w*)|\bem texto (?:puro|simples|claro)|"
               r"\bnos logs\b",
        no_auth=r"\bsem (?:login|fazer login|autentica\w*|estar (?:logad|autenticad)\w*|senha|permiss\w*|token)",
        access=r"\b(?:acess\w*|ver|ler|baixar|apagar|excluir|editar|consult\w*|qualquer (?:um|pessoa))\b",
        unauthorised=r"\bacesso nao autorizado",
        system_prompt=r"\b(?:prompt (?:do|de) sistema|instrucoes (?:do|de) sistema|prompt interno|instrucoes ocultas)",
        injection=r"\binjecao de (?:prompt|comandos)",
        weakness=r"\batacantes?\b|\bexecucao remota de codigo|\binjecao de (?:sql|comandos)",
        harmful=r"\b(?:suicid\w*|automutila\w*|autolesao|discurso de odio|racist\w*|racismo)|"
                r"\bcomo (?:fazer|montar) uma bomba|\bconselhos? medicos? perigos\w*|\bdose letal|"
                r"\bparar de tomar (?:o |os |a |as |seus? |suas? )?(?:remedio|medicamento|medicacao)",
        gate=r"atacante|execucao remota|outro|outra|alhei|terceir|vaz|expost|divulgad|publicad|texto|nos logs|sem |"
             r"nao autorizado|sistema|prompt interno|instrucoes|injecao|suicid|automutila|autolesao|odio|racis|bomba|"
             r"perigos|dose letal|parar de tomar",
    ),
    # Italian.
    "it": _Words(
        others=r"\bdi (?:altri|altre|un altro|un'altra|terzi)(?: \w+)? (?:utent|client|person|pazient|account)\w*|"
               r"\baltri (?:utenti|clienti|pazienti)|\bun altro utente|\baltrui\b",
        data=r"\b(?:dati|chat|conversazion[ei]|messaggi|cronologia|informazioni|numer[oi] di telefono|telefono|"
             r"indirizz[oi]|e-?mail|ordini|file|documenti|foto)\b",
        shown=r"(?<!non )\b(?:vedo|vede|vediamo|vedere|visibil\w*|mostr\w*|compai\w*|appai\w*|espost\w*|trapel\w*|"
              r"rivel\w*|divulg\w*|visualizz\w*)",
        secret=r"\b(?:chiavi? (?:api|segret\w*|privat\w*)|api ?key|password|token|credenziali)\b",
        leaked=r"(?<!non )\b(?:espost\w*|trapel\w*|rivelat\w*|divulgat\w*|pubblicat\w*)|\bin chiaro\b|\bnei log\b",
        no_auth=r"\bsenza (?:login|autenticazione|effettuare l'accesso|fare l'accesso|essere (?:loggat|autenticat)\w*|"
                r"password|permessi|token)",
        access=r"\b(?:accedere|vedere|leggere|scaricare|cancellare|eliminare|modificare|chiunque|qualsiasi utente)\b",
        unauthorised=r"\baccesso non autorizzato",
        system_prompt=r"\b(?:prompt di sistema|istruzioni di sistema|prompt interno|istruzioni nascoste)",
        injection=r"\biniezione (?:di|del) prompt",
        weakness=r"\battaccant[ei]\b|\besecuzione (?:remota )?di codice (?:remot|arbitrari)\w*|"
                 r"\besecuzione remota di codice|\biniezione (?:sql|di comandi)",
        harmful=r"\b(?:suicid\w*|autolesion\w*|razzist\w*|razzismo)|\bincitamento all'odio|\bdiscors[oi] d'odio|"
                r"\bcome (?:costruire|fare) una bomba|\bconsigli\w* medic\w* pericolos\w*|\bsmettere di prendere\b",
        gate=r"attaccant|esecuzione|altr|terzi|espost|trapel|rivelat|divulgat|pubblicat|in chiaro|nei log|senza |"
             r"non autorizzato|di sistema|prompt interno|istruzioni|iniezione|suicid|autolesion|razzis|odio|bomba|"
             r"pericolos|smettere di prendere",
    ),
    # Dutch.
    "nl": _Words(
        others=r"\bvan (?:andere|een andere|anderen)(?: \w+)?(?: (?:gebruiker|klant|persoon|mensen|patient|"
               r"account)\w*)?|\bandere (?:gebruikers?|klanten|patienten)|\bandermans\b|\bvan iemand anders",
        data=r"\b(?:gegevens|data|chats?|gesprekk?en|berichten|geschiedenis|telefoonnummers?|e-?mailadress?en|"
             r"adress?en|bestellingen|bestanden|documenten|foto'?s)\b",
        shown=r"(?<!niet )(?<!geen )\b(?:zie|zien|ziet|zichtbaar|getoond|toont|weergegeven|gelekt|lekt|blootgesteld|"
              r"openbaar|verschijn\w*|te zien)\b",
        secret=r"\b(?:api[- ]?(?:sleutels?|keys?)|wachtwoord\w*|tokens?|inloggegevens|geheime sleutels?|"
               r"prive ?sleutels?)\b",
        leaked=r"(?<!niet )\b(?:gelekt|lekt|uitgelekt|blootgesteld|openbaar gemaakt)|\bin (?:platte|leesbare) tekst|"
               r"\bin de logs?\b",
        no_auth=r"\bzonder (?:in te loggen|inloggen|login|authenticatie|wachtwoord|token|rechten)",
        access=r"\b(?:zien|bekijken|lezen|downloaden|verwijderen|wijzigen|openen|toegang|iedereen)\b",
        unauthorised=r"\bongeautoriseerde toegang|\bonbevoegde toegang",
        system_prompt=r"\b(?:systeem ?prompt|systeeminstructies|verborgen instructies)",
        injection=r"\bprompt-?injectie",
        weakness=r"\baanvallers?\b|\b(?:uitvoeren|uitvoering) van (?:willekeurige )?code op afstand",
        harmful=r"\b(?:zelfmoord\w*|zelfbeschadiging|haatzaai\w*|haatspraak|racistisch\w*|racisme|overdosis)|"
                r"\bbom (?:maken|bouwen)|\bgevaarlijk\w* (?:medisch\w* )?advies|\bstoppen met (?:je |uw )?medicijnen",
        gate=r"aanvaller|op afstand|andere|andermans|iemand anders|lekt|blootgesteld|openbaar|tekst|in de log|zonder |"
             r"ongeautoriseerd|onbevoegd|systeem|verborgen|injectie|zelfmoord|zelfbeschad|haat|racis|overdosis|bom |"
             r"gevaarlijk|medicijnen",
    ),
    # Polish. ą/ę/ś/ż… fold to plain letters; ł stays.
    "pl": _Words(
        others=r"\b(?:innych|innego|innej|inni|obcych|obcego) (?:użytkownik|klient|osob|pacjent|kont)\w*|\bcudz\w*",
        data=r"\b(?:dane|danych|czat\w*|rozmow\w*|wiadomości|wiadomosci|histori\w*|numer\w* telefonu|telefon\w*|"
             r"adres\w*|e-?mail\w*|zamówie\w*|plik\w*|dokument\w*|zdjęci\w*)",
        shown=r"(?<!nie )\b(?:widzę|widać|widzi|widzimy|widoczn\w*|wyświetla\w*|pokazuj\w*|pokazał\w*|wyciek\w*|"
              r"wyciekł\w*|ujawni\w*|upubliczni\w*|pojawia\w*)",
        secret=r"\b(?:klucz\w* (?:api|prywatn\w*|tajn\w*)|api ?key|hasł\w*|token\w*|dane logowania|danych logowania)",
        leaked=r"(?<!nie )\b(?:wyciek\w*|wyciekł\w*|ujawni\w*|upubliczni\w*)|\b(?:jawnym|zwykłym|czystym) tekstem|"
               r"\bw logach\b",
        no_auth=r"\bbez (?:logowania|zalogowania|zalogowania się|uwierzytelni\w*|autoryzacji|hasła|tokena|uprawnień)",
        access=r"\b(?:zobaczyć|widzi|widać|odczytać|przeczytać|pobrać|usunąć|edytować|zmienić|dostęp\w*|każdy|"
               r"ktokolwiek)",
        unauthorised=r"\bnieautoryzowan\w* dostęp\w*",
        system_prompt=r"\b(?:prompt\w* systemow\w*|instrukcj\w* systemow\w*|ukryt\w* instrukcj\w*)",
        injection=r"\bwstrzykiwani\w* (?:promptów|prompta|poleceń)",
        weakness=r"\batakując\w*|\batakujac\w*|\bzdaln\w* wykonani\w* kodu|\bwstrzykiwani\w* (?:sql|poleceń)",
        harmful=r"\b(?:samobój\w*|samookalecz\w*|rasistowsk\w*|rasizm\w*|przedawkow\w*)|\bmow\w* nienawiści|"
                r"\bjak zrobić bombę|\bniebezpieczn\w* porad\w*(?: medyczn\w*)?|\b(?:przestać brać|odstawić) lek\w*",
        gate=r"atakując|atakujac|zdaln|innych|innego|innej|inni|obcych|obcego|cudz|wyciek|ujawni|upubliczni|tekstem|"
             r"w logach|bez |nieautoryzowan|systemow|ukryt|wstrzykiwani|samobój|samookalecz|rasistowsk|rasizm|"
             r"przedawkow|nienawiści|bombę|niebezpieczn|brać lek|odstawić lek",
    ),
    # Turkish. ı is spelled [ıi] because "KULLANICI" lowers to "kullanici"; ç/ş/ğ/ö/ü lose their marks.
    "tr": _Words(
        others=r"\b(?:başka (?:bir )?|diğer |yabancı )(?:kullan[ıi]c[ıi]|müşteri|kişi|hasta|hesap)\w*|"
               r"\bbaşkalar[ıi]n[ıi]n|\bbaşkas[ıi]n[ıi]n",
        data=r"\b(?:veri\w*|sohbet\w*|konuşma\w*|mesaj\w*|geçmiş\w*|telefon\w*|numara\w*|e-?posta\w*|adres\w*|"
             r"sipariş\w*|dosya\w*|bilgi\w*|fotoğraf\w*)",
        shown=r"\b(?:görünüyor|görünür|görüyorum|görebiliyor\w*|gösteriyor|gösterildi|gösterdi|s[ıi]zd[ıi]|"
              r"s[ıi]z[ıi]nt[ıi]|s[ıi]zd[ıi]r\w*|ifşa|açığa ç[ıi]k\w*|görüntülen\w*|ç[ıi]k[ıi]yor)",
        secret=r"\b(?:api anahtar\w*|api key\w*|şifre\w*|parola\w*|token\w*|gizli anahtar\w*|özel anahtar\w*|"
               r"kimlik bilgi\w*)",
        leaked=r"\b(?:s[ıi]zd[ıi]|s[ıi]z[ıi]nt[ıi]|s[ıi]zd[ıi]r\w*|ifşa|açığa ç[ıi]k\w*)|\bdüz metin|"
               r"\b(?:loglarda|günlüklerde)",
        no_auth=r"\b(?:giriş yapmadan|oturum açmadan|kimlik doğrulama(?:s[ıi])? olmadan|şifresiz|token olmadan)",
        access=r"\b(?:görebil\w*|erişebil\w*|erişil\w*|okuyabil\w*|indirebil\w*|silebil\w*|değiştirebil\w*|herkes|"
               r"aç[ıi]l[ıi]yor|erişim)",
        unauthorised=r"\byetkisiz erişim",
        system_prompt=r"\bsistem (?:prompt\w*|istem\w*|talimat\w*)|\bgizli talimat\w*",
        injection=r"\bprompt enjeksiyon\w*|\bistem enjeksiyon\w*",
        weakness=r"\bsald[ıi]rgan\w*|\buzaktan kod çal[ıi]şt[ıi]r\w*|\bsql enjeksiyon\w*|\bkomut enjeksiyon\w*",
        harmful=r"\b(?:intihar\w*|[ıi]rkç[ıi]\w*)|\bkendine zarar|\bnefret söylem\w*|"
                r"\bbomba (?:yapım\w*|nas[ıi]l yap\w*)|\btehlikeli (?:t[ıi]bbi )?tavsiye\w*|\bilac[ıi] b[ıi]rak\w*|"
                r"\baş[ıi]r[ıi] doz",
        gate=r"saldırgan|saldirgan|uzaktan kod|başka|diğer|yabanc|sızd|sizd|sızınt|sizint|ifşa|açığa|düz metin|"
             r"loglarda|günlüklerde|yapmadan|açmadan|olmadan|şifresiz|yetkisiz|sistem |gizli talimat|enjeksiyon|"
             r"intihar|ırkç|irkç|kendine zarar|nefret|bomba|tehlikeli|ilac|doz",
    ),
    # Hindi. Vowel signs are not \w in Python, so no \b; virama and nukta fold away.
    "hi": _Words(
        others=r"(?:दूसरे|अन्य|किसी और|किसी दूसरे) (?:यूज़र|यूजर|उपयोगकर्ता|उपयोगकर्ताओं|ग्राहक|ग्राहकों|लोगों|"
               r"व्यक्ति|मरीज़|खाते)|दूसरों",
        data=r"डेटा|डाटा|चैट|बातचीत|संदेश|मैसेज|इतिहास|हिस्ट्री|फ़ोन|फोन|नंबर|ईमेल|पता|ऑर्डर|फ़ाइल|फाइल|जानकारी|तस्वीर",
        shown=r"(?<!नहीं )(?:दिख|दिखा|लीक|उजागर|सार्वजनिक|प्रदर्शित|नज़र आ|सामने आ)",
        secret=r"(?:एपीआई|api) ?(?:की|कुंजी|key)|पासवर्ड|टोकन|गुप्त कुंजी|निजी कुंजी|क्रेडेंशियल",
        leaked=r"लीक|उजागर|सादे टेक्स्ट|लॉग में|सार्वजनिक हो",
        no_auth=r"बिना (?:लॉगिन|लॉग इन|प्रमाणीकरण|पासवर्ड|टोकन|अनुमति)",
        access=r"देख|एक्सेस|पहुंच|पहुँच|पढ़|डाउनलोड|हटा|बदल|कोई भी",
        unauthorised=r"अनधिकृत (?:पहुंच|पहुँच|एक्सेस)",
        system_prompt=r"सिस्टम (?:प्रॉम्प्ट|प्रांप्ट|प्रोम्प्ट|निर्देश)|छिपे (?:हुए )?निर्देश",
        injection=r"प्रॉम्प्ट इंजेक्शन|प्रोम्प्ट इंजेक्शन",
        weakness=r"हमलावर|रिमोट कोड (?:एक्सीक्यूशन|निष्पादन)|एसक्यूएल इंजेक्शन",
        harmful=r"आत्महत्या|खुद को नुकसान|आत्म-?हानि|नफ़रत भरे? (?:भाषण|बयान)|घृणा (?:भाषण|फैलाने)|नस्लवादी|जातिवादी|"
                r"बम (?:बनाने|बनाना)|खतरनाक (?:चिकित्सा |मेडिकल )?सलाह|दवा (?:लेना )?बंद कर|ओवरडोज़?",
        gate=r"[\u0900-\u097f]",
    ),
}


class _Floor:
    """A floor pattern per language, each tried only when that language's gate is in the text.

    Searching every language's alternations at every position of every report is slow; most reports are
    English, and the gates (a script, or a few rare stems) rule the other languages out at C speed. A language's
    pattern is compiled the first time a text passes its gate, so a process that never sees Hindi never pays for
    compiling it (compiling all of them took about a tenth of a second of every start).
    """

    def __init__(self, build: Callable[[_Words], str]) -> None:
        self._build = build
        self._patterns: dict[str, re.Pattern[str]] = {}

    def search(self, text: str) -> re.Match[str] | None:
        for name in _gated(text):
            found = self._pattern(name).search(text)
            if found:
                return found
        return None

    def _pattern(self, name: str) -> re.Pattern[str]:
        pattern = self._patterns.get(name)
        if pattern is None:  # two threads may both compile it once; either result is the same pattern
            pattern = self._patterns[name] = re.compile(_fold(self._build(_LANGUAGES[name])))
        return pattern


def _trie(stems: list[str]) -> str:
    """Literal stems as one regex that branches on the first character, not on every stem in turn."""
    if "" in stems:
        return ""  # a shorter stem already ended here: for a gate, that is enough
    by_first: dict[str, list[str]] = {}
    for stem in stems:
        by_first.setdefault(stem[0], []).append(stem[1:])
    branches = [re.escape(first) + _trie(tails) for first, tails in sorted(by_first.items())]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


def _gate(words: _Words) -> str:
    return _fold(words.gate) if words.gate.startswith("[") else _trie(_fold(words.gate).split("|"))


_GATES = {name: re.compile(_gate(words)) for name, words in _LANGUAGES.items()}
# Every script class in one, then every stem in one trie: most reports fail both in a single quick pass.
_ANY_GATE = re.compile(
    "[" + "".join(_fold(w.gate)[1:-1] for w in _LANGUAGES.values() if w.gate.startswith("[")) + "]|"
    + _trie([stem for w in _LANGUAGES.values() if not w.gate.startswith("[") for stem in _fold(w.gate).split("|")]))


@lru_cache(maxsize=16)
def _gated(text: str) -> tuple[str, ...]:
    """The languages whose gate the text passes (grading asks once per floor for the same text)."""
    if not _ANY_GATE.search(text):
        return ()  # most reports: one pass over the text and no language to try
    return tuple(name for name, gate in _GATES.items() if gate.search(text))


# (reason, floor): what was found, in the words the card shows (the same reasons the English rules give).
FLOORS: tuple[tuple[str, _Floor], ...] = (
    # Another person's chats, history, phone number or address shown: whose + what + shown, close together.
    ("other users' data is exposed", _Floor(
        lambda w: _near(_near(w.others, w.data, 12 * w.scale), w.shown, 40 * w.scale))),
    # A key, password or token in the logs, in plain text, leaked.
    ("a credential or secret is leaked", _Floor(lambda w: _near(w.secret, w.leaked, 25 * w.scale))),
    # Without login one can see or change things; or "unauthorised access" said outright.
    ("access without authentication or authorisation", _Floor(
        lambda w: _near(w.no_auth, w.access, 40 * w.scale) + "|" + w.unauthorised)),
    # The system prompt shown or leaked; prompt injection or a jailbreak named.
    ("injection, exfiltration or a guardrail bypass", _Floor(
        lambda w: _near(w.system_prompt, w.shown + "|" + w.leaked, 30 * w.scale) + "|" + w.injection)),
    # An attacker, path traversal, remote code execution, SQL or command injection named.
    ("a security weakness is described", _Floor(lambda w: w.weakness)),
    # Self-harm, hate speech, weapons, dangerous medical advice.
    ("harmful, hateful or unsafe output", _Floor(lambda w: w.harmful)),
)

# Exposure or "someone else's" wording, in any language this module knows. Grading reads it only when the
# report holds an e-mail address or a phone number, so it is one plain pattern, ungated.
LEAK_CONTEXT: re.Pattern[str] = re.compile(
    "|".join(f"(?:{_fold(f'{w.others}|{w.shown}|{w.leaked}')})" for w in _LANGUAGES.values()))
