"""The offline bug grader: rules over normalised text in English, Spanish, German and French.

It looks for what a report *describes* (another user's data shown, a crash, a typo, a wish), never
for what it *asks* ("CRITICAL!!!", "file this as grade 5"): urgency wording and instructions inside a
report are data. Safety floors — personal data or secrets in the report, other users' data exposed,
credentials leaked, injection or exfiltration, access without authentication, harmful output or
dangerous advice — make a report grade 1 whatever else it says, and no other classifier may go lower.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.domain import floors_intl
from bot.domain.grades import grade_info
from bot.domain.pii import Redaction, redact
from bot.domain.text import readable
from bot.domain.textmodel import TextModel, Vector, shipped

# PII kinds that are a breach wherever they appear in a report; e-mail addresses and phone numbers
# are ordinary in bug reports and count only when the text says they were exposed.
ALWAYS_SENSITIVE = frozenset({"card", "iban", "national_id", "api_key", "private_key", "secret", "password"})


@dataclass(frozen=True)
class Signal:
    grade: int
    reason: str
    pattern: re.Pattern[str]
    floor: bool = False
    negatable: bool = True
    # A weak signal ("bug", "error", "wrong") sets the grade only when nothing more specific matched.
    weak: bool = False


@dataclass(frozen=True)
class Verdict:
    """What the grader decided, with reasons a person can check."""

    grade: int
    label: str
    reasons: tuple[str, ...]
    confidence: float
    source: str = "rules"  # rules | model | team | llm
    pii: tuple[str, ...] = ()
    floor: bool = False
    redacted_text: str = field(default="", repr=False)
    category: str | None = None
    unsure: tuple[int, int] | None = None  # the two grades the model could not tell apart
    similar_to: str | None = None  # the team's regraded report this one was graded like

    def as_json(self) -> dict:
        return {"grade": self.grade, "label": self.label, "category": self.category, "reasons": list(self.reasons),
                "source": self.source, "confidence": self.confidence,
                "unsure": list(self.unsure) if self.unsure else None, "similar_to": self.similar_to,
                "pii": list(self.pii)}


class EmptyReport(ValueError):
    """A report with no text: nothing to grade."""


@dataclass(frozen=True)
class Correction:
    """A person's regrade of one of the team's reports: a labelled example the grader follows."""

    readable_id: str
    user_id: str
    grade: int
    reason: str
    vector: Vector
    category: str | None = None


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# Who else's data: "other users", "otros usuarios", "anderer Nutzer", "d'autres utilisateurs".
_OTHERS = (r"(?:other|another|different|random|wrong|someone else'?s?|somebody else'?s?|other people'?s?|"
           r"every(?:one|body)'?s?|all (?:the )?(?:other )?|any(?:one|body)'?s?|strangers?'?s?)")
_PEOPLE = (r"(?:users?|customers?|people|persons?|accounts?|tenants?|patients?|clients?|members?|employees?|"
           r"students?|clinics?|compan(?:y|ies)|organi[sz]ations?|orgs?|teams?|workspaces?|schools?|firms?)'?s?")
_DATA = (r"(?:data|chats?|conversations?|messages?|histor(?:y|ies)|files?|documents?|emails?|records?|prompts?|"
         r"info(?:rmation)?|details|orders?|photos?|pictures?|responses?|answers?|invoices?|addresses|"
         r"profiles?|uploads?|transcripts?|threads?|notes?|results?)")
_EXPOSE = (r"(?:leak|expos|reveal|visible|shown|show(?:s|ed|ing)?|display|dump|print|output|return|"
           r"appear|surfac|disclos|log(?:s|ged)?\b|public)")

# Decisions about people made on protected characteristics (a legal and ethical breach in hiring, housing,
# lending): a decision or a question about one, not a mere mention ("the disability form has a typo").
_PROTECTED = (r"(?:pregnan\w*|marital status|religio\w*|ethnic\w*|race|racial|sexual orientation|disabilit\w*|"
              r"national origin|gender identity)")
_DECIDES = (r"(?:asks?|asked|asking|questions?|rejects?|rejected|reject\w*|filters?|filtered|scores?|scored|ranks?|"
            r"ranked|penali[sz]\w*|screens? out|screened out|infers?|inferred|predicts?|deni\w*|based on)"
            r"(?: \w+){0,3} (?:about|on|by|for|because of|their|candidates'?|applicants'?)?")

SIGNALS: tuple[Signal, ...] = (
    # --- grade 1 floors -------------------------------------------------------------------------
    Signal(1, "other users' data is exposed", _rx(
        rf"\b{_OTHERS} ?(?:\w+ )?{_PEOPLE} {_DATA}",
        rf"\b{_OTHERS} ?{_PEOPLE}\b.{{0,40}}\b(?:see|saw|seen|read|view|access|download)",
        rf"\b(?:see|saw|seen|read|view|access|download|get|got|receive|received)s?\b.{{0,50}}\b{_OTHERS} ?{_PEOPLE}",
        rf"\b(?:see|saw|read|view|access|download|get)s?\b.{{0,30}}\b(?:everyone|everybody)'?s? {_DATA}",
        rf"\b{_DATA} (?:of|from|belonging to) (?:other|another|different|random) {_PEOPLE}",
        r"\bcross.(?:tenant|account|user) (?:leak|data|access|exposure|contamination)",
        rf"\b(?:someone|somebody) else'?s? (?:\w+ )?(?:{_DATA[3:-1]}|order|account|card|booking|ticket|email|address)",
        r"\bdatos de (?:otros|otras|otro|otra) (?:usuari|client|persona|pacient)",
        r"\b(?:ver|veo|ve|vemos|muestra|aparecen?|salen?)\b.{0,40}\bde (?:otros|otro|otra|otras) "
        r"(?:usuari|client|persona|pacient)",
        r"\b(?:daten|chats?|nachrichten|verlauf|dateien|dokumente|unterhaltungen) (?:von )?(?:anderer|anderen|"
        r"fremder|fremden) (?:nutzer|benutzer|kunden|personen|patienten)",
        r"\b(?:sehe|sieht|sehen|angezeigt|zeigt)\b.{0,40}\b(?:anderer|anderen|fremder|fremden) (?:nutzer|benutzer|"
        r"kunden|personen)",
        r"\b(?:donnees|conversations?|messages?|historiques?|fichiers?|documents?) d'(?:autres|un autre) "
        r"(?:utilisateur|client|personne|patient)",
        r"\b(?:voir|vois|voit|voient|affiche|apparai)\w*\b.{0,40}\b(?:d'autres|d'un autre|des autres) "
        r"(?:utilisateur|client|personne)",
    ), floor=True),
    Signal(1, "personal data is exposed", _rx(
        r"\b(?:leak|expos|reveal|disclos|dump)\w*\b.{0,30}\b(?:names?|diagnos[ie]s|salar(?:y|ies)|addresses|"
        r"phone numbers|emails?|medical|health|financial|biometric)",
        r"\b(?:pii|personal (?:data|information|details)|personally identifiable|social security|ssn|"
        r"credit card|card numbers?|passport|medical records?|health (?:data|records?)|home address(?:es)?|"
        r"dates? of birth|bank (?:details|account))\b.{0,50}" + _EXPOSE,
        _EXPOSE + r"\w*\b.{0,50}\b(?:pii|personal (?:data|information|details)|social security|credit card|"
        r"card numbers?|passport|medical records?|health records?|home address(?:es)?|phone numbers|"
        r"email addresses|dates? of birth)",
        r"\b(?:data breach|data leak|privacy (?:breach|violation|leak|incident)|leaks? (?:user|customer) data)",
        r"\b(?:fuga|filtracion) de (?:datos|informacion)|\bdatos personales\b.{0,40}(?:expuest|visible|filtr|muestra)",
        r"\b(?:datenleck|datenpanne|datenschutzverletzung)|\bpersonenbezogene(?:n)? daten\b.{0,40}"
        r"(?:sichtbar|offengelegt|angezeigt|geleakt)",
        r"\bfuite de (?:donnees|informations)|\bdonnees personnelles\b.{0,40}(?:expose|visible|affich|divulg)",
    ), floor=True),
    Signal(1, "a credential or secret is leaked", _rx(
        r"\b(?:api[ _-]?keys?|secret(?: key)?s?|access (?:key|token)s?|auth(?:entication)? tokens?|bearer tokens?|"
        r"passwords?|credentials?|private keys?|session (?:token|cookie)s?|connection strings?)\b.{0,40}"
        r"(?:leak|expos|reveal|visible|shown|in (?:the )?(?:logs?|response|output|url|html|page source|repo)|"
        r"plain ?text|printed|committed|public)",
        r"\b(?:leak|expos|reveal|print|log|dump|return)\w*\b.{0,30}\b(?:api[ _-]?keys?|secret keys?|access tokens?|"
        r"passwords?|credentials|private keys?|session tokens?)",
        r"\b(?:api |secret |private |master |admin |access )?keys? (?:is|are|was|were|gets?|got|being) (?:\w+ )?"
        r"(?:printed|logged|shown|displayed|exposed|visible|leaked|written|sent|included|dumped|echoed)\b",
        r"\b(?:clave|contrasena)s?(?: de api)?\b.{0,30}(?:expuest|visible|filtrad|en texto plano)",
        r"\b(?:passwort|kennwort|api.schlussel|zugangsdaten)\b.{0,30}(?:sichtbar|im klartext|geleakt|offengelegt)",
        r"\b(?:mot de passe|cle api|identifiants)\b.{0,30}(?:visible|en clair|expose|divulgu)",
    ), floor=True),
    Signal(1, "injection, exfiltration or a guardrail bypass", _rx(
        r"\bprompt.?injection|\bjail ?break|\bindirect injection",
        r"\b(?:system|hidden|internal) (?:prompt|instructions?)\b.{0,30}(?:leak|reveal|expos|dump|extract|print|"
        r"disclos|show)",
        r"\b(?:leak|reveal|expos|dump|extract|print|disclos|show)\w*\b.{0,30}\b(?:system|hidden|internal) "
        r"(?:prompt|instructions)",
        r"\bexfiltrat|\bsql.?injection|\bxss\b|\bcross.site.scripting|\bremote code execution|\brce\b|\bssrf\b|"
        r"\barbitrary code|\bcommand injection|\bpath traversal|\bcsrf\b",
        r"\b(?:bypass|circumvent|get around|disable|turn off|defeat|trick|fool|skip)\w*\b.{0,30}\b(?:safety|"
        r"guardrails?|filters?|moderation|content polic|safeguards?|age (?:checks?|gates?|verification)|"
        r"identity (?:checks?|verification)|kyc|parental controls?|id checks?)",
        r"\binyeccion de (?:prompt|sql|comandos)|\bprompt.injektion|\binjection de (?:prompt|sql)",
    ), floor=True),
    Signal(1, "access without authentication or authorisation", _rx(
        r"\b(?:without|no|bypass\w*|skip\w*) (?:being )?(?:logged in|logging in|login|log in|auth\w*|signing in|"
        r"sign.in|credentials|a password|an account|permission)",
        r"\bunauthenticated|\bunauthori[sz]ed (?:access|users?|requests?)|\bidor\b|\bprivilege escalation|"
        r"\bbroken access control",
        r"\b(?:any|anonymous|logged.out) (?:user|one|visitor|person|member)s? (?:can|could|is able to) "
        r"(?:access|delete|edit|modify|see|read|download|change|view)",
        r"\badmin (?:panel|page|endpoint|api|console|dashboard)\b.{0,40}(?:public|open|without|anyone|accessible)",
        r"\bsin (?:iniciar sesion|autenticacion|login|contrasena|permiso)|\bohne (?:anmeldung|login|"
        r"authentifizierung|passwort|berechtigung)|\bsans (?:authentification|connexion|se connecter|mot de passe)",
    ), floor=True, negatable=False),
    Signal(1, "harmful, hateful or unsafe output", _rx(
        r"\bwant(?:s|ed)? to (?:die|end (?:it|(?:my|their|his|her) life))|"
        r"\bhelp (?:them|him|her|me|you) (?:plan|end|die)|"
        r"\bself.?harm|\bsuicid|\bkill (?:yourself|myself|himself|herself|themselves)|\bhurt (?:yourself|"
        r"themselves)",
        r"\bhate ?speech|\bhateful|\bracis[tm]|\bracial slur|\bslurs?\b|\bantisemit|\bhomophob|\btransphob|"
        r"\bsexis[tm]|\bmisogyn|\bnazi|\bwhite supremac|\bgenocid|\bdehumaniz",
        r"\b(?:child\w*|minors?|underage|kids?|teen\w*)\b.{0,60}\b(?:sexual|explicit|nsfw|porn\w*|nude|"
        r"grooming)|\b(?:sexual|explicit|nsfw|porn\w*|nude)\b.{0,60}\b(?:child\w*|minors?|underage|kids?|teen\w*)\b|"
        r"\bcsam\b",
        r"\b(?:bomb|explosive|weapon|firearm|poison|meth|nerve agent|bioweapon|ransomware|malware)s?\b.{0,40}"
        r"\b(?:instructions|recipe|how to|steps|make|build|synthesi)",
        r"\b(?:how to|instructions (?:for|to)|steps to)\b.{0,30}\b(?:make|build|synthesi[sz]e)\b.{0,20}"
        r"\b(?:bomb|explosive|poison|meth|weapon)",
        r"\b(?:dangerous|harmful|lethal|toxic|unsafe|deadly) (?:medical |health |legal |financial )?"
        r"(?:advice|instructions|dosage|dose|recommendation)",
        r"\b(?:chlorine|mustard|sarin|ricin|nerve|toxic|poison\w*) gas\b|\bmix\w* (?:household )?(?:chemicals|"
        r"cleaning products|bleach and)|\b(?:synthesi[sz]\w*|make|making|produce|producing|cook\w*)\b.{0,30}"
        r"\b(?:meth\w*|"
        r"fentanyl|explosives?|napalm|thermite|ricin)\b",
        r"\b(?:stop taking|double (?:the|their|your) dose|overdose|mix(?:ing)? bleach|drink bleach)",
        r"\b(?:violent threats?|threaten\w* (?:to|the user)|harass\w*|extremis[tm]|terroris[tm])",
        r"\bdiscurso de odio|\bautolesion|\bracista|\bhassrede|\bselbstverletzung|\brassistisch|"
        r"\bdiscours haineux|\bautomutilation|\braciste",
    ), floor=True),
    Signal(1, "a security weakness is described", _rx(
        r"\[security\]|\bsecurity advisory|\bcve-\d{4}-\d+|"
        r"\b(?:security (?:issue|bug|hole|flaw|vulnerabilit\w*|problem)|security:|vulnerab\w*|exploit\w*|"
        r"attacker|malicious|phishing|impersonat\w*|spoof\w*|session hijack\w*|account takeover|"
        r"data exfil\w*|steal\w*)\b",
        r"\b(?:no|missing|without|skips?|lacks?|broken) (?:ownership|authori[sz]ation|authz|access|permission|"
        r"tenant|acl|rbac) (?:check|control|validation|scoping)s?\b",
        r"\b(?:any|every|arbitrary|other) (?:\w+_)?ids?\b.{0,30}\b(?:returns?|access|read|download|delete|edit)|"
        r"\b(?:returns?|exposes?|serves?)\b.{0,20}\bfor (?:any|every|arbitrary) \w*_?id",
        r"\b(?:anyone|everyone|any user|anybody) with (?:the |a )?(?:\w+ )?(?:link|url)\b.{0,30}"
        r"\b(?:edit|delete|change|modify|admin|see|read|access)",
        r"\b(?:cookies?|session ids?|tokens?|secrets?|credentials?)\b.{0,40}\b(?:attacker|third part|external|"
        r"browser console|console|written to|logged|in (?:the )?url|public)",
        r"\b(?:runs?|running|ran|execut\w*)\b.{0,40}\b(?:shell commands?|commands?|code|scripts?)\b.{0,60}"
        r"\b(?:from|in|found in|embedded in)\b.{0,30}\b(?:readme|web ?pages?|websites?|documents?|emails?|pdfs?|"
        r"issues?|fetched|retrieved|untrusted|tool outputs?)|\bcurl\b[^|]{0,60}\| ?(?:sudo )?(?:ba|z)?sh\b",
        r"\b(?:instructions?|prompts?|text|commands?|comments?) (?:hidden |embedded |planted )?in (?:a|an|the) "
        r"(?:\w+ )?(?:invite|email|document|web ?page|pdf|file|review|comment|image|issue|readme|ticket|message|"
        r"website|calendar \w+)\b.{0,60}\b(?:made|makes|caused|causes|got|gets|led|leads|tricked|had)\b",
        r"\b(?:forward\w*|send\w*|sent|email\w*|upload\w*|exfil\w*|post(?:s|ed|ing)?)\b.{0,60}\bto (?:an? |the |some )?"
        r"(?:outside|external|unknown|third.party|attacker'?s?|personal|random|untrusted) (?:\w+ )?(?:address|email|"
        r"server|url|domain|account|endpoint|recipient|party|site)",
        r"\bhttponly\b|\b(?:renders?|rendering|injects?) (?:raw |unsanitized |unescaped )?html (?:from|in|of) "
        r"(?:the )?(?:model|llm|ai|user|bot)|\b(?:unsanitized|unescaped) (?:html|markdown|output)|"
        r"\b(?:innerhtml|dangerouslysetinnerhtml)\b",
        r"\b(?:deactivated|disabled|removed|revoked|deleted|former|offboarded|expired|suspended|rotated)\b.{0,40}"
        r"\b(?:accounts?|users?|employees?|keys?|tokens?|contractors?|members?|staff)\b.{0,60}\bstill\b.{0,30}"
        r"\b(?:access|query|use|log|read|call|work|see|download|edit|valid|accepted)",
        r"\b(?:accounts?|users?|employees?|keys?|tokens?|contractors?|members?|staff)\b.{0,30}\b(?:deactivated|"
        r"disabled|removed|revoked|deleted|offboarded|expired|suspended|rotated)\b.{0,40}\bstill\b.{0,30}"
        r"\b(?:access|query|use|log|read|call|work|see|download|edit|valid|accepted)",
        r"\b(?:read|see|access|download|view|open|edit|delete|get|fetch)\w*\b.{0,80}\bby (?:chang|edit|modify|modifi|"
        r"increment|guess|swap|tamper)\w*\b.{0,15}\b(?:the |an? )?(?:\w+ )?(?:ids?|numbers?|parameters?|params?)\b",
        r"\b(?:lists?|listing|returns?|returning|exposes?|exposing|leaks?|shows?)\b.{0,12}\b(?:files|data|documents|"
        r"records|messages|chats|conversations|keys|secrets|emails|invoices)\b (?:from|of|belonging to|across) "
        r"(?:all|every|other) (?:organi[sz]ations|orgs|tenants|workspaces|accounts|customers|companies)\b",
        r"\b169\.254\.169\.254\b|\b(?:cloud|instance|aws|gcp|azure|ec2) metadata\b|\bimds\b|\bany (?:url|host|"
        r"address|domain)\b.{0,60}\b(?:including|even) (?:localhost|127\.0\.0\.1|internal|intranet|private)|"
        r"\binternal (?:network|services?|ips?|hosts?|endpoints?)\b.{0,40}\b(?:reachable|exposed|from the (?:model|"
        r"agent|plugin|tool))",
        r"\b(?:tricked|manipulated|coerced|hijacked)\b.{0,40}\b(?:into|to) (?:send|sending|leak|reveal|run|"
        r"execut|click|visit|delet)",
    ), floor=True),
    Signal(1, "private or training data is exposed", _rx(
        r"\b(?:training data|fine.tuning data|dataset)\b.{0,40}\b(?:memori[sz]|regurgitat|verbatim|leak|"
        r"reproduc|extract|real)",
        r"\b(?:memori[sz]\w*|regurgitat\w*)\b",
        r"\b(?:users?'?s?|customers?'?s?|patients?'?s?) (?:prompts?|conversations?|messages?|data|emails?)\b.{0,20}"
        r"\bverbatim|\bverbatim\b.{0,30}\b(?:prompts?|tickets?|emails?|conversations?|messages?|records?)",
        r"\b(?:public|publicly|world.readable|open) (?:logs?|status page|buckets?|dashboards?|urls?|pages?)\b.{0,40}"
        r"\b(?:contain|include|show|expose|list)",
        r"\b(?:belong|belongs|belonging) to (?:a |an )?(?:different|another|other|wrong) (?:account|user|org\w*|"
        r"tenant|customer|team|workspace|person)",
        r"\b(?:full name|real name|insurance number|national insurance|tax id|patient id|account number)s?\b.{0,40}"
        r"\b(?:real|of a|output|included|shown|exposed|leak|visible)",
        r"\b(?:credit (?:reports?|histor(?:y|ies)|scores?)|criminal records?|medical histor(?:y|ies)|home address\w*|"
        r"background checks?)\b.{0,60}\b(?:about|of|for|on) (?:a |any |an? )?(?:real |private |named |specific )?"
        r"(?:person|people|individual|someone|anyone|neighbou?r|stranger|employee|customer)|\babout (?:a )?(?:real )?"
        r"(?:person|people|individual|someone) by name\b",
        r"\b(?:full|complete|unmasked|raw|plain(?:text)?|entire) (?:credit )?(?:card numbers?|ssns?|social security "
        r"numbers?|ibans?|account numbers?|passport numbers?)\b",
        r"\b(?:kept|keeps|keeping|retain\w*|stored|stores|storing)\b.{0,60}\bafter\b.{0,40}\b(?:deleted|deletion|"
        r"opted out|asked (?:us )?to delete|closed (?:their|the) accounts?|unsubscribed)|\b(?:contrary to|against|"
        r"violat\w*|breach\w*) (?:our |the |its )?privacy polic",
        r"\b(?:donnees|informations) de sante|\bdatos (?:medicos|de salud)|\bgesundheitsdaten",
        r"\bd'un autre patient|\bde otro paciente|\beines anderen patienten",
    ), floor=True),
    Signal(1, "confidential data reaches the wrong people", _rx(
        r"\b(?:internal|confidential|private|sensitive|secret|classified|proprietary|hr|finance'?s?|legal|board|"
        r"salary|payroll)\b.{0,40}\b(?:docs?|documents?|memos?|files?|data|records?|notes?|reports?|emails?)\b.{0,60}"
        r"\b(?:anonymous|public|visitors?|external|outsiders?|everyone|anyone|customers|guests?|unauthori[sz]ed|"
        r"other (?:teams?|departments?|tenants?|customers))",
        r"\b(?:anonymous|public|visitors?|external|outsiders?|guests?|logged.out)\b.{0,60}\b(?:internal|confidential|"
        r"private|sensitive|hr|finance)\b.{0,30}\b(?:docs?|documents?|memos?|files?|data|records?|notes?)",
        r"\bwithout (?:any )?(?:row.level|access|permission|tenant|acl|document.level|user.level) (?:filters?|checks?|"
        r"controls?|scoping|security)|\b(?:row.level|document.level) (?:security|filters?)\b.{0,30}\b(?:missing|off|"
        r"disabled|not (?:applied|enforced))",
        r"\b(?:public|publicly (?:readable|accessible)|world.readable|open) (?:s3 |gcs |storage |blob )?(?:buckets?|"
        r"containers?)\b|\bpublicly accessible\b.{0,40}\b(?:data|files|recordings?|audio|logs|backups?|documents?)",
        r"\b(?:private|confidential|personal|internal|1:1|one.on.one|hr|sensitive|secret)\b.{0,60}\b(?:posted|shared|"
        r"sent|published|pasted|leaked)\b.{0,40}\b(?:public|everyone|all.hands|#general|whole (?:company|team|org)|"
        r"open channel|customers)",
        r"\b(?:posted|shared|sent|published|pasted|leaked)\b.{0,40}\b(?:private|confidential|personal|internal|1:1|"
        r"one.on.one|hr|sensitive|secret)\b.{0,60}\b(?:public|everyone|all.hands|#general|whole (?:company|team|org)|"
        r"open channel|customers)",
        r"\b(?:recordings?|raw audio|transcripts?|backups?|dumps?)\b.{0,40}\b(?:public|publicly|unencrypted|"
        r"world.readable|anyone)",
    ), floor=True),
    Signal(1, "safeguards are bypassed or insecure behaviour is produced", _rx(
        r"\bunlocks?\b.{0,40}\b(?:moderation|override|admin|safety|restricted|hidden|developer|god|debug) ?"
        r"(?:mode|override|settings?|filters?|features?)?",
        r"\b(?:disables?|disabling|turns? off|skips?)\b.{0,20}\b(?:tls|ssl|certificate|cert|https|signature|csrf|"
        r"auth\w*) (?:verification|validation|checks?)|\bverify ?= ?false\b",
        r"\b(?:env(?:ironment)? var\w*|secrets?|api keys?|credentials?|\.env)\b.{0,40}\b(?:pastebin|external|"
        r"third.party|remote|attacker|webhook|outside)",
        r"\b(?:record\w*|upload\w*|shar(?:es|ed|ing)|collect\w*|track\w*|sold|sells|stor(?:es|ed|ing)|kept|keeps|"
        r"listen\w*|sends?|sent)\b.{0,60}\bwithout (?:telling|informing|asking|notifying|notice|(?:the |their |users'? "
        r"|the user'?s? )?(?:knowledge|awareness))",
        r"\b(?:\d{1,2} ?(?:year|yr)s? old|minors?|child\w*|kids?|teen\w*|underage|pupils?)\b.{0,80}\b(?:vap\w*|"
        r"alcohol|beer|cigarettes?|tobacco|gambl\w*|casino|weapons?|guns?|porn\w*|without (?:id|age verification|"
        r"parental consent))\b",
        r"\b(?:voice clon\w*|deep ?fakes?|fake (?:recording|voice|video|image|audio|photo)s?|impersonat\w*)\b",
        r"\b(?:without|no|missing) (?:a |any |the |their |users'? |user |explicit |informed )?(?:consent|permission)\b",
    ), floor=True),
    Signal(1, "unsafe content reaches users", _rx(
        r"\bsexuali[sz]\w*|\b(?:dangerous(?:ly)?|harmful(?:ly)?|lethal(?:ly)?)\b.{0,40}\b(?:medications?|medicines?|"
        r"drugs?|doses?|dosage|interact\w*|mix\w*|combin\w*|advice|treatment|supplements?)|\b(?:medications?|"
        r"medicines?|drugs?|pills)\b.{0,40}\b(?:interact|overdose)\w* dangerous",
        r"\b(?:unsafe|harmful|toxic|nsfw|explicit|violent|graphic) (?:completions?|outputs?|content|responses?|"
        r"answers?|images?|replies|generations?)",
        r"\b(?:graphic violence|gore|sexual content|nudity)\b",
        r"\b(?:guard ?rails?|llama ?guard|safety (?:filter|model|classifier|layer|checks?)|moderation|content filter)"
        r"\b.{0,30}\b(?:disabled|off|bypassed|broken|not (?:work|run|appl)|missing|skipped|failing)",
        r"\b(?:kids?|child\w*|\d+ ?(?:year|yr)s? old|minors?|teen\w*) (?:mode|users?|account)?\b.{0,40}\b(?:violen\w*|"
        r"gore|sexual|explicit|self.harm|drugs?|alcohol)",
        r"\b(?:defamat\w*|libel\w*|slander\w*)\b|\b(?:fake|false|made.up|invented|fabricated|untrue)\b.{0,50}"
        r"\b(?:accus\w*|alleg\w*)\b.{0,60}\b(?:brib\w*|fraud|crimes?|corruption|murder|abuse|theft|harass\w*|"
        r"rape|embezzl\w*|convicted)|\b(?:falsely|wrongly) (?:claims?|accus\w*|says?)\b.{0,40}"
        r"\b(?:convicted|criminal|fraud|crime|arrested)",
        r"\binsult\w* racist\w*|\binsultos racistas",
        r"\b(?:real|actual|named|identifiable|existing|living) (?:person|people|celebrit\w*|politicians?|individuals?|"
        r"wom[ae]n|m[ae]n|child\w*|classmates?|colleagues?)\b.{0,50}\b(?:sexual\w*|nude|naked|explicit|nsfw|"
        r"undress\w*|compromising)|\b(?:sexual\w*|nude|naked|explicit|nsfw|undress\w*)\b.{0,50}\b(?:real|actual|"
        r"named|identifiable) (?:person|people|celebrit\w*|politicians?|individuals?|wom[ae]n|child\w*)",
        r"\b(?:nude|naked|undress\w*|sexual\w*|explicit|nsfw|porn\w*)\b.{0,60}\b(?:photos?|pictures?|images?|selfies?)"
        r" of (?:a |an |the |my |their |his |her )?(?:\w+ )?(?:classmates?|colleagues?|coworkers?|co-workers?|"
        r"neighbou?rs?|friends?|students?|teachers?|girlfriend|boyfriend|wife|husband|ex|child\w*|kids?|minors?|"
        r"person|people|someone|women|woman|girls?|boys?)\b",
        r"\b(?:eating disorders?|anorexi\w*|bulimi\w*)\b.{0,80}\b(?:calories|diet\w*|fast\w*|lose weight|weigh\w*|"
        r"skip\w* meals|restrict\w*)|\b(?:under|below|less than) [1-7]\d{2} (?:k?cal|calories)",
    ), floor=True),
    # --- grade 1, not a floor -------------------------------------------------------------------
    Signal(1, "the model was talked into a commitment or abusive output", _rx(
        r"\b(?:agreed|agrees|promised|promises|committed|offered) to (?:sell|give|refund|honou?r|pay|waive)|"
        r"\blegally binding\b|\b(?:promised|offered|granted|guaranteed)\b.{0,40}\b(?:discounts?|refunds?|deals?|"
        r"compensation|for free|free (?:upgrade|year|month)s?)\b.{0,60}\b(?:does ?n[o']?t exist|not (?:real|exist|"
        r"valid|authori[sz]ed)|we (?:never|do not|don'?t) offer|honou?r)|\bfor (?:\$ ?1|one dollar|1 dollar)\b",
        r"\b(?:swore|swearing|cursed at|curses at|insult(?:ed|s|ing) (?:the |a )?(?:user|customer|caller|people)|"
        r"abusive|profanit\w*|obscen\w*|threaten\w* (?:the |a )?(?:user|customer|people|journalist))",
        r"\b(?:illegal|unlawful|break(?:ing)? the law|against the law)\b.{0,80}\b(?:advice|told|tells|recommend|"
        r"suggest|instruct)|\b(?:told|tells|advised|advises|recommend\w*|suggest\w*)\b.{0,80}\b(?:illegal|unlawful|"
        r"break(?:ing)? the law|against the law)",
    )),
    Signal(1, "a legal or ethical breach", _rx(
        r"\b(?:gdpr|hipaa|ccpa|coppa|ai act)\b.{0,30}(?:violat|breach|non.?complian|infring)",
        r"\b(?:violat|breach|infring)\w*\b.{0,30}\b(?:gdpr|hipaa|ccpa|law|regulation|copyright|trademark|licen[cs]e)",
        r"\b(?:copyright|trademark)\w* (?:infring|violat)|\breproduces? (?:copyrighted|licensed)",
        r"\bcopyrighted (?:\w+ )?(?:photos?|images?|text|books?|articles?|lyrics|songs?|music|code|works?|material|"
        r"characters?)|\bwatermarks?\b.{0,60}\b(?:reproduc\w*|copies|copy|appears?|shows?|generat\w*)|\b(?:reproduc\w*|"
        r"generat\w*|outputs?|copies)\b.{0,40}\bwatermarks?\b|\b(?:verbatim|word for word|near.(?:copies|identical))\b"
        r".{0,40}\b(?:lyrics|books?|articles?|photos?|images?|novels?|songs?|paywalled)",
        r"\b(?:target\w*|show(?:s|ed|ing)?|serv(?:es|ed|ing)|push(?:es|ed|ing)?|recommend\w*)\b.{0,40}\b(?:ads?|offers?|"
        r"loans?|bets?|promotions?)\b.{0,60}\b(?:vulnerable|financial distress|in debt|gambling|addict\w*|minors|"
        r"children|elderly|grieving|depressed|distress)|\bpayday loans?\b",
        r"\b(?:tried|tries|trying|attempted|urged|urges|urging|encouraged|encourages|encouraging|pressured|pressures|"
        r"convinc\w*|persuad\w*|manipulat\w*)\b.{0,40}\b(?:to|into)\b.{0,30}\b(?:leave (?:his|her|their) "
        r"(?:wife|husband|partner|family)|divorce|stop (?:taking|seeing)|hide\b|keep (?:it )?(?:a )?secret|"
        r"send (?:it )?"
        r"money|cut off (?:friends|family))",
        rf"\b{_DECIDES}\b.{{0,40}}\b{_PROTECTED}|\b{_PROTECTED}\b.{{0,30}}\b(?:is |are |was |were )?"
        r"(?:used|considered|weighed|inferred|factored)\b",
        r"\bdiscriminat\w* (?:against|based on)|\b(?:biased|bias) against\b|\b(?:rejects?|denies|scores? lower)\b"
        r".{0,40}\b(?:women|female|black|minorit|disabled|older (?:applicants|people)|because of (?:their )?"
        r"(?:race|gender|age|religion))",
    )),
    # --- grade 2 ---------------------------------------------------------------------------------
    Signal(2, "frequent or consistent wrong output", _rx(
        r"\b(?:always|consistently|constantly|every (?:time|single)|all the time|most of the time|systematically|"
        r"frequently|very often|often|repeatedly|keeps?|regularly)\b.{0,30}\b(?:wrong|incorrect|hallucinat|makes? up|"
        r"invent|fabricat|nonsense|gibberish|garbage|made.up|false|inaccurate)",
        r"\bhallucinat\w*\b.{0,30}\b(?:constantly|a lot|frequently|all the time|most|every|badly|heavily|"
        r"high rate|more than half|majority)",
        r"\b(?:high|huge|massive|terrible) hallucination",
        r"\b(?:wrong|incorrect|hallucinat\w*|nonsense|fabricat\w*|made.up|empty|blank|inaccurate)\b.{0,40}"
        r"\b(?:most of the time|all the time|every time|each time|constantly|consistently|always|"
        r"for (?:all|every|most)|(?:to |in |for |on )?(?:most|all|every|almost all|nearly all|the majority of) "
        r"(?:of )?(?:the )?(?:\w+ )?(?:questions|queries|answers|requests|prompts|cases|users|files|images|inputs|"
        r"documents|calls|tests))",
        r"\b(?:frequently|often|always|consistently|repeatedly|keeps?|most of the time)\b.{0,60}\b(?:when "
        r"(?:it|they|he|she|there) (?:is ?n[o']?t|are ?n[o']?t|was ?n[o']?t|were ?n[o']?t|does ?n[o']?t)|which is "
        r"(?:false|untrue|not true)|that (?:is ?n[o']?t|are ?n[o']?t) true)",
        r"\b(?:almost|nearly|virtually) (?:everything|every \w+|all \w+)\b.{0,20}\b(?:as|wrong|incorrect|fail)",
        r"\b(?:invent\w*|fabricat\w*|made up|makes up|hallucinat\w*) (?:a |an |the )?(?:\w+ )?(?:policy|policies|"
        r"rules?|discounts?|refunds?|prices?|fees?|deadlines?|laws?|regulations?)\b",
        r"\b(?:sources?|citations?|references?|urls?|links|papers?|cases?|studies) (?:that|which) "
        r"(?:do ?n[o']?t|does ?n[o']?t|never) exist|\b(?:are|is|were|was) (?:completely |all )?fabricated",
        r"\b(?:accuracy|precision|recall|f1|quality|pass rate|success rate|win rate)\b.{0,20}\b(?:dropped|fell|"
        r"plummet\w*|tank\w*|collaps\w*|crater\w*|halved)\b",
        r"\b(?:makes? up|invents?|fabricates?|fake|hallucinat\w*|non.?existent|made.up)\b.{0,20}\b(?:citations?|"
        r"references?|sources?|facts|statistics|numbers|legal cases?|case law|quotes?|urls?|links|papers?|"
        r"studies|api|functions?|packages?|libraries?)",
        r"\b(?:nonsense|gibberish|garbled|unreadable|random characters|word salad)\b",
        r"\b(?:cited|cites|citing|quoted|quotes|gave|gives|applied|applies)\b.{0,30}\b(?:repealed|outdated|"
        r"superseded|wrong|incorrect|invented|non.?existent|expired)\b.{0,20}\b(?:laws?|statutes?|regulations?|"
        r"rules?|polic(?:y|ies)|prices?|dosages?|terms)",
        r"\b(?:leaves?|left|leaving|omits?|omitted|skips?|skipped|drops?|dropped)\b(?: out)?\b.{0,50}"
        r"\b(?:entirely|completely|altogether|every time)\b",
        r"\b(?:cases|citations|sources|references|quotes|studies|papers|precedents?|rulings)\b (?:\w+ )?(?:that )?"
        r"(?:were )?(?:invented|fabricated|made up|hallucinated|fake)\b",
        r"\b(?:gave|gives|giving|told|tells|telling|quoted|quotes)\b.{0,30}\b(?:misleading|false|wrong|incorrect|"
        r"inaccurate|made.up|outdated)\b.{0,10}\b(?:information|info|answers?|advice|prices?|policy|terms|figures|"
        r"dates?|instructions)",
        r"\b(?:siempre|constantemente|a menudo|casi siempre)\b.{0,30}\b(?:incorrect|equivoc|invent|alucin|mal)",
        r"\binventa\w*\b.{0,20}\b(?:citas|referencias|datos|fuentes|cifras)|"
        r"\balucina\w* (?:mucho|constantemente|siempre)",
        r"\b(?:immer|standig|oft|dauernd|meistens)\b.{0,30}\b(?:falsch|unsinn|erfind|erfunden|halluzin)",
        r"\berfind\w*\b.{0,20}\b(?:quellen|zitate|fakten|zahlen|urteile)|"
        r"\bhalluziniert (?:standig|oft|dauernd|stark)",
        r"\b(?:toujours|souvent|constamment|systematiquement)\b.{0,30}\b(?:faux|fausse|incorrect|n'importe quoi|"
        r"invent|halluci)",
        r"\binvent\w*\b.{0,20}\b(?:sources|citations|references|faits|chiffres)",
    )),
    Signal(2, "a major feature fails", _rx(
        r"\b(?:crash\w*|outage|is down|went down|goes down|completely broken|totally broken|unusable|"
        r"(?:does ?n[o']?t|doesnt|do not|does not) work at all|not working at all|stopped working|"
        r"(?:500|502|503|504) (?:error|internal)|internal server error|data loss|lost (?:all|my|our|their) "
        r"(?:data|work|files|history|chats?)|deleted (?:all|my|our|their)|corrupt\w*)",
        r"\b(?:can ?n[o']?t|cannot|unable to|impossible to|fails? to|no one can|nobody can)\b.{0,15}\b"
        r"(?:log ?in|sign ?in|use|access|save|submit|upload|send|pay|checkout|load|open|start)\b",
        r"\b(?:all|every|100%|most) (?:users|requests|customers|calls|responses)\b.{0,30}\b(?:fail|error|broken|"
        r"time ?out)",
        r"\b(?:returns?|returning|throws?|gives?|giving|getting|got|shows?)\b.{0,12}\b(?:500|502|503|504)\b",
        r"\b(?:fails?|failing|errors?|breaks?|crash\w*|times? out)\b.{0,15}\b(?:every time|each time|always|"
        r"consistently|for (?:every|all|each))",
        r"\bnothing (?:else )?works|\bnone of (?:the|our|my) \w+ (?:work|load)",
        r"\b(?:half|two.thirds|three.quarters|the majority|most|\d{2,3} ?%) of (?:the |all |our )?(?:\w+ )?"
        r"(?:documents|requests|calls|answers|responses|files|users|customers|queries|tickets|messages|conversations|"
        r"runs|jobs|images|tests|cases)\b",
        r"\bevery (?:\w+ ){0,6}(?:fails?|errors?|breaks?|crash\w*|times? out|is (?:wrong|broken|rejected))",
        r"\b(?:labels?|classif\w*|marks?|routes?|tags?|flags?|sends?) (?:all|every|almost all|nearly all)\b",
        r"\b(?:is|are) (?:completely |totally )?broken for\b|\b(?:ignores?|skips?|bypasses?)\b.{0,30}\b(?:entirely|"
        r"completely|altogether|every time)",
        r"\b(?:wrong|incorrect|false|outdated|made.up) (?:\w+ )?(?:info|information|advice|answers?|prices?|"
        r"policies|policy)\b.{0,30}\b(?:to |for )?(?:customers|users|patients|clients|students)",
        r"\b(?:para|en|a) (?:todos|todas) (?:los|las)\b.{0,40}\b(?:vaci|error|falla|mal|incorrect)|"
        r"\b(?:vaci|error|falla|mal|incorrect)\w*\b.{0,40}\b(?:para|en) (?:todos|todas) (?:los|las)",
        r"\b(?:is|are|went|goes|been) down\b|\b(?:service|api|server|site|app|endpoint|model|cluster) (?:is |are )?"
        r"down\b|\bdown since\b",
        r"\b(?:loops?|looping|stuck) (?:forever|indefinitely|endlessly|in a loop)|\bnever (?:answers|responds|returns|"
        r"finishes|completes|stops)|\bhangs? up\b",
        r"\b(?:on|for|with|in) (?:every|each|all) (?:request|call|attempt|try|run|file|document|product|page|user)s?\b"
        r"|\bfor all (?:users|customers|documents|files|requests|products)\b",
        r"\b(?:no matter what|regardless of (?:the |what |which )?(?:\w+ ){0,2}(?:input|question|user|prompt|content|"
        r"language|setting|selection|option|choice|target|selected|model|chosen)|(?:translates?|converts?|answers?|"
        r"responds?|replies|returns?|outputs?|labels?|classifies|marks?|routes?) everything\b|essentially random|"
        r"(?:completely |totally )?random for everyone|for everyone since|(?:swaps?|mix\w* up|confus\w*)\b.{0,40}"
        r"\b(?:on|in|for) (?:nearly |almost |virtually )?(?:every|all|most))\b",
        r"\b(?:(?:nearly|almost|virtually|practically) (?:every|all|each)|in most|most(?: of (?:the|our))?) "
        r"(?:\w+ ){0,2}(?:documents?|requests?|answers?|responses?|queries|meetings?|reports?|calls?|customers?|"
        r"users?|tickets?|files?|pages?|cases|questions|invoices|pull requests|prs|bookings?|attempts?|runs?|emails?|"
        r"conversations?|chats?|summar(?:y|ies)|transcripts?|products?|orders?)\b",
        r"\b(?:same|identical) (?:\w+ ){0,3}(?:for|to) (?:every|each|all|any)\b|\b(?:every|each|any) "
        r"(?:\w+ ){0,2}(?:gets?|receives?|sees?) the same\b",
        r"\b(?:can ?n[o']?t|cannot|unable to|fails? to) (?:complete|finish|process|create|book|generate|answer|"
        r"run|execute|import|export|index|connect)\b.{0,10}\b(?:any|all|a single)\b",
        r"\b(?:refuses?|declines?|won'?t) (?:to )?(?:answer|respond|help|process|reply)\b.{0,20}\b(?:any|all|every)\b",
        r"\bsilently (?:drops?|discards?|loses?|lost|ignores?|truncates?|skips?|deletes?|fails?|fill\w*)\b",
        r"\breturns? (?:nothing|no results|an empty (?:list|result|response|array|vector))\b|\b(?:empty|blank|zero) "
        r"(?:vectors?|embeddings?|responses?|results?|answers?)\b(?!.{0,20}\b(?:sometimes|occasionally|rarely))",
        r"\b(?:reference|cite|call|use|import)s? (?:\w+ ){0,2}(?:tables?|columns?|functions?|apis?|endpoints?|"
        r"packages?|modules?|fields?) (?:that|which) (?:do ?n[o']?t|does ?n[o']?t|never) exist",
        r"\b(?:fast|beinahe|nahezu) (?:jede[mnrs]?|alle[nm]?)\b|\bseit (?:gestern|heute|dem update)\b.{0,60}"
        r"\b(?:erfunden|falsch|fehler|kaputt)|\bsystematiquement\b|\b(?:casi|practicamente) (?:todos|todas|siempre|"
        r"cada)\b",
        r"\b(?:breaks?|broken|fails?|failing|crash\w*)\b.{0,20}\b(?:constantly|all the time|every time|each time|"
        r"repeatedly)",
        r"\bonly (?:about |around |roughly )?\d{1,2} ?% of the time|\b(?:in|for) (?:most|the majority of) "
        r"(?:\w+ )?(?:contracts|documents|cases|submissions|tests|files|requests|answers|questions|products)",
        r"\b(?:regression|regressed)\b.{0,60}\b(?:never|forever|fail\w*|broken|wrong|loops?|crash\w*|down)\b",
        r"\bschlagt\b.{0,40}\bfehl\b.{0,30}\b(?:jedem|jeder|immer)|\bbei jedem (?:versuch|aufruf)|"
        r"\bgeht gar nichts mehr|\ba chaque (?:fois|requete|tentative)|\ben cada (?:intento|peticion|solicitud)",
        r"\b(?:deletes|deleted|deleting|wipes|wiped|overwrote|overwrites|destroyed|dropped|erased|removed)\b.{0,25}"
        r"\b(?:files?|data|records?|repos?|repositor\w*|databases?|tables?|branch\w*|emails?|accounts?|documents?|"
        r"backups?|director(?:y|ies)|folders?|projects?|home)\b|\brm -r|\b(?:permanently|irreversibl\w*) "
        r"(?:lost|deleted|gone|removed|erased)",
        r"\b(?:for|to) (?:everyone|everybody|all (?:users|customers))\b.{0,20}\b(?:down|fail|broken|error)",
        r"\b(?:wrong|incorrect|false|inaccurate) (?:advice|answers?|information|totals?|calculations?|prices?|"
        r"amounts?|refunds?|balances?|results)\b.{0,40}\b(?:customers?|users|patients|clients)",
        r"\bno funciona (?:nada|en absoluto|para nadie)|\bse (?:cae|bloquea|cuelga)|\bcaida del servicio|"
        r"\bperdi\w* (?:mis|todos|todas|los) (?:datos|archivos|chats)|\bno (?:puedo|podemos|pueden) "
        r"(?:entrar|iniciar sesion|usar|guardar|acceder)",
        r"\bsturz\w*\b.{0,40}\bab\b|\babgesturzt|\babsturz|\bfunktioniert\b.{0,25}\b(?:gar|uberhaupt) nicht|"
        r"\bausfall|\bdatenverlust|"
        r"\b(?:kann|konnen) (?:mich )?nicht (?:mehr )?(?:anmelden|einloggen|speichern|zugreifen)",
        r"\bplante\b|\bcrash|\bne (?:fonctionne|marche) (?:pas du tout|plus du tout|plus)|\bpanne|"
        r"\bperte de donnees|\bimpossible de (?:se connecter|sauvegarder|acceder|charger)",
    )),
    Signal(2, "an error or exception stops the feature", _rx(
        r"\btraceback \(most recent call last\)|\b\w*(?:error|exception)\b: |\bexception (?:is )?(?:thrown|raised)|"
        r"\b(?:raises?|throws?|raising|throwing) (?:an? )?\w*(?:error|exception)\b|\bsegmentation fault|\bsegfaults?\b|"
        r"\bcore dumped\b|\bpanic: |\bexit(?:s|ed)? with (?:code|status) [1-9]|\b(?:fails?|failed|failing) to "
        r"(?:start|load|import|install|build|initiali[sz]e|connect|run)\b|\bwon'?t (?:start|load|run|install)\b|"
        r"\bstack ?trace\b|\bis not callable\b|\bhas no attribute\b|\bmissing \d+ required\b|"
        r"\bno module named\b|\bout of memory\b",
    )),
    # --- grade 3 ---------------------------------------------------------------------------------
    Signal(3, "occasional wrong output", _rx(
        r"\b(?:sometimes|occasionally|once in a while|from time to time|now and then|a few times|rarely|"
        r"intermittent\w*|sporadic\w*|some answers|in some cases|a small number)\b.{0,40}\b(?:wrong|incorrect|"
        r"hallucinat|makes? up|invent|inaccurate|fails?|errors?|outdated|off|miss\w*|omit\w*|skip\w*|ignor\w*|"
        r"forget\w*|drops?|truncat\w*|mix\w* up|confus\w*)",
        r"\b(?:minor|small|slight|occasional) (?:hallucination|inaccurac|factual error|mistake)",
        r"\b(?:a bit|a little|slightly|somewhat|sometimes) (?:off|wrong|inaccurate|outdated|stale)\b",
        r"\b(?:a veces|ocasionalmente|de vez en cuando)\b|\b(?:manchmal|gelegentlich|ab und zu)\b|"
        r"\b(?:parfois|de temps en temps|occasionnellement)\b",
    )),
    Signal(3, "slow or degraded responses", _rx(
        r"\b(?:slow|slower|sluggish|laggy|lag\b|latency|takes? (?:too |very |so )?long|timed? ?out|time-?outs?|"
        r"performance|degraded|hangs?\b|p9[59]|seconds to (?:respond|load|answer)|(?:endless|infinite|eternal) "
        r"spinner|spinner (?:forever|for (?:ever|minutes|\d+))|keeps? spinning)",
        r"\b(?:takes?|took|taking|waits?|waited|waiting)\b.{0,12}\b\d+ ?(?:s|sec|secs|seconds|minutes|mins?)\b",
        r"\blento|\btarda\w*|\blatencia|\blangsam|\bdauert\w* (?:zu |sehr |ewig )?lange|\blatenz|\blent\b|"
        r"\blenteur|\blatence|\bprend (?:trop de|beaucoup de) temps",
    )),
    Signal(3, "tone or style is off", _rx(
        r"\b(?:tone|too casual|too formal|informal|rude|condescending|robotic|verbose|wordy|rambl\w*|"
        r"repetitive|repeats itself|overly (?:casual|formal|apologetic|enthusiastic)|apologi[sz]es)\b",
        r"\b(?:answers?|responses?|replies|output|summar(?:y|ies)) (?:are|is|were|get) (?:too|very|way too) long\b",
        r"\binconsistent (?:tone|style|voice|answers|responses|results|recommendations|quality)|"
        r"\b(?:answers|responses|results) (?:are|were) inconsistent|\bsame question twice\b",
        r"\b(?:tono|demasiado (?:informal|formal)|repetitiv)|\b(?:tonfall|zu (?:locker|formell|lang)|"
        r"wiederholt sich)|\b(?:le ton|trop (?:familier|formel|long)|se repete)",
    )),
    Signal(3, "something does not work as expected", _rx(
        r"\b(?:does ?n[o']?t|doesnt|do not|is not|isn'?t|not) (?:work\w*|load\w*|sav\w*|updat\w*|show\w*|"
        r"display\w*|respond\w*)\b",
        r"\b(?:bug|broken|error|fails?|failing|failed|wrong|incorrect|issue|problem)\b",
        r"\bno funciona|\bfunktioniert nicht|\bne (?:fonctionne|marche) pas|\berror\b|\bfehler\b|\berreur\b",
    ), weak=True),
    # --- grade 4 ---------------------------------------------------------------------------------
    Signal(4, "a cosmetic or wording problem", _rx(
        r"\b(?:typos?|misspel\w*|spelling|grammar|grammatical|punctuation|capitali[sz]ation|wording|phrasing|"
        r"awkward|misaligned|alignment|overlap\w*|cut off|truncated|clipped|flicker\w*|cosmetic|ui glitch|"
        r"visual glitch|pixel|not centered|off.center|wrong (?:colou?r|font|icon)|tooltip|placeholder text|"
        r"broken image|emoji renders?)\b",
        r"\b(?:button|icon|font|label|logo|menu|modal|layout|text|banner|header|footer|sidebar|dark mode|page)\b"
        r".{0,25}\b(?:misaligned|overlaps?|cut off|too (?:small|big|large)|hidden|ugly|off by|wrong colou?r|"
        r"looks (?:off|weird|odd|wrong))",
        r"\bwraps? (?:onto|to|into|over)\b|\btext wrap\w*|\b(?:narrow|small|mobile) screens?\b|"
        r"\bsyntax highlight\w*|\bloses? (?:its |the )?(?:formatting|highlighting|styling|rounded corners|icons?)|"
        r"\bcolou?r\b.{0,30}\b(?:invisible|unreadable|hard to|too (?:light|dark|faint))|\bmayusculas|"
        r"\bgross(?:buchstaben|schreibung)|\bmajuscules\b|"
        r"\b(?:spelled|spelt|spelling of|misspelt)\b|\binstead of (?:red|green|blue|orange|black|white|grey|gray|"
        r"yellow|purple|bold|italic)\b|\b(?:render|renders|rendered|shows?|appears?) (?:without|twice|double)\b|"
        r"\b(?:rounded corners|border|borders|scrollbar|toast|heading|avatar|initials|favicon|breadcrumb|"
        r"character counter|counter)\b|\bcopy:|\b(?:verzerrt|pixelig|pixelad[oa]|deborde|borroso|flou)\b|"
        r"\brenders? as (?:a )?(?:box|square|question mark)|\bmojibake|\b\d+ ?px\b|\b(?:gap|spacing|padding|"
        r"margin|contrast)\b|\bhard to (?:see|read)\b|\bwrong (?:height|width|size|colou?r|font|icon|spacing|"
        r"position|date format)|\blayout shift|\bpage jumps|\bdouble (?:period|space|comma|full stop)|\bblurry|"
        r"\bpixelated|\blooks (?:off|weird|odd|wrong|blurry|broken)|\bcapitali[sz]",
        r"\bglitch\w*|\bhover(?:ing)? (?:state|effect|colou?r)|\b(?:on|when) hover\b|\bhover(?:ing)? over\b.{0,60}"
        r"\b(?:white|black|grey|gray|invisible|colou?r|background|disappears?|flicker\w*)|"
        r"\bcolou?r theme\b|\btheme (?:is|looks|breaks|resets|switches)\b|"
        r"\b(?:white|black|grey|gray|dark|light) (?:text|background|button|icon|box|border|bar)\b|\btexture|"
        r"\b(?:broken|dead|wrong|outdated) (?:links?|anchors?|urls? in the docs)|\b404 (?:link|page) in (?:the )?docs|"
        r"^\W{0,3}(?:docs?|documentation|typo|ui|ux|style|css|a11y|i18n|chore\(docs\))(?:\(\w+\))?\s*(?:\]|:|-|\|)",
        r"\b(?:errata|falta de ortografia|ortografia|gramatica|desalinead|se corta|mal alineado)|"
        r"\b(?:tippfehler|rechtschreib\w*|grammatik|verrutscht|abgeschnitten|falsch ausgerichtet)|"
        r"\b(?:faute de (?:frappe|grammaire)|coquille|orthographe|mal aligne|tronque|coupe)\b",
    )),
    Signal(4, "a cosmetic or wording problem", _rx(
        r"\b(?:not|isn'?t|aren'?t|no longer) (?:\w+ )?(?:aligned|centered|centred|justified)\b|\bno hover\b|"
        r"\b(?:shows?|displays?|appears?|renders?|printed)\b.{0,25}\btwice\b|\bbackground (?:is|turns|stays|becomes) "
        r"(?:white|black|grey|gray|transparent|the wrong)|\boff.?screen\b|\bout of (?:the )?(?:viewport|screen)\b|"
        r"\b(?:hint|label|tooltip|placeholder|caption|badge|icon|shortcut|button text|title)\b.{0,30}\binstead of\b|"
        r"\b(?:label|button|toast|badge|tooltip|spinner|indicator|banner|notice)\b.{0,30}\b(?:forever|stays? "
        r"(?:visible|on screen|there)|never (?:goes away|disappears|resets|clears))\b|"
        r"\bturns? (?:it |them )?(?:white|black|grey|gray|transparent|invisible)\b|\bcuts? off\b|\bcutting off\b|"
        r"\b(?:narrow|small|resized) windows?\b|\bau survol\b|\bbeim (?:hover|uberfahren)\b|\bal pasar el raton\b",
    ), negatable=False),
    # --- grade 5 ---------------------------------------------------------------------------------
    Signal(5, "feature request or suggestion wording", _rx(
        r"\b(?:feature request|would (?:be|love|like)|it would help|please add|can you add|could you add|"
        r"(?:we|i)'?d (?:appreciate|love|like)|(?:a|an|some) way to|please (?:support|allow|let|make it possible)|"
        r"(?:we|i|customers|users) (?:really |urgently |badly )?(?:need|want)s?\b(?! (?:this|it|that) "
        r"(?:fixed|resolved|to work))|"
        r"can we (?:have|get)|could we (?:have|get)|i wish|suggestion:|my suggestion|a suggestion|i suggest|"
        r"^\W*(?:feature(?: request)?|enhancement|feat|proposal|idea|request)\s*(?:\]|:|-)|"
        r"accept (?:a |an )?(?:pr|pull request|contribution|patch)|any chance (?:of|to|that|you)|\w+ integration\?|"
        r"\b(?:as|for) (?:a |an )?(?:new )?(?:provider|backend|option|integration|plugin)\?|"
        r"we suggest|idea:|one idea|support for|(?:please )?consider adding|any plans|plans to (?:support|add)|"
        r"(?:it'?d|it would) be (?:useful|nice|great|helpful|cool)|would it be possible|is it possible to|"
        r"is there a way to|proposal:|request:|missing thing|\bpls\b|"
        r"add support|allow (?:us|users|me) to|ability to|an option to|option to|nice to have|enhancement|"
        r"request:|integrate with|integration with|would appreciate|wishlist|roadmap|want to be able)",
        r"\b(?:seria (?:bueno|genial|util|ideal)|podrian (?:agregar|anadir|incluir)|sugerencia|me gustaria|"
        r"estaria bien|solicitud de (?:funcion|mejora))",
        r"(?:^|[.!?:;] *)(?:add|support(?! (?:bot|team|agent|ticket|staff|chat|desk|engineer|case|queue|copilot|"
        r"assistant|people|rep)s?\b)|allow|let|make|enable|provide|include|expose|offer)\b"
        r"(?!.{0,40}\b(?:crash|error|fail|broken|bug|wrong)\w*)",
        r"^(?:could|can|would|will|is it|are there|is there|any|do you|does it|will there)\b[^.!]*\?\s*$",
        r"\b(?:hay planes|tienen planes|ser(?:i|a) posible|seria util)|\b(?:ware (?:cool|praktisch|nett)|"
        r"gibt es plane)|\b(?:serait(?:-il)? possible|est-ce (?:qu'il|que vous) (?:serait|pourriez)|une idee)",
        r"\bwould make\b.{0,50}\b(?:easier|better|simpler|faster|smoother|nicer)\b|"
        r"\bkonnte?t? ihr\b.{0,50}\b(?:hinzufugen|einbauen|erganzen|anbieten|unterstutzen)\b",
        r"\b(?:ware (?:schon|toll|gut|super|hilfreich)|bitte\b.{0,30}\b(?:hinzufugen|einbauen|erganzen)|"
        r"funktionswunsch|vorschlag|ich wunsche mir|wunsch:|konnt ihr\b.{0,30}\b(?:hinzufugen|einbauen))",
        r"\b(?:ce serait (?:bien|genial|super|utile)|pourriez.vous (?:ajouter|integrer)|suggestion|j'aimerais|"
        r"demande de fonctionnalite|ajouter (?:le )?support|il faudrait ajouter)",
    ), negatable=False),
    Signal(5, "a question about how to use it", _rx(
        r"^\W{0,3}(?:question|q|help|how to|usage|support)\s*(?:\]|:|-|\|)",
        r"^\W{0,3}how (?:do|can|should|would) (?:i|we|you|one)\b",
    ), negatable=False),
    Signal(5, "filed as a feature request", _rx(
        r"^\W{0,3}(?:feature(?: request)?|feat|fr|enhancement|proposal|idea|rfc|request|suggestion|wish)"
        r"(?:\(\w+\))?\s*(?:\]|:|-|\|)",
    ), negatable=False),
)

# When nothing specific matched, words from these areas tip an unclear report to grade 1: a missed
# critical bug costs far more than a second look at a medium one. Cosmetic and wish wording win over it.
_SENSITIVE = re.compile(
    r"\b(?:patients?|medical|health|diagnos\w*|prescription|therap\w*|salar(?:y|ies)|payroll|cvs?|resumes?|"
    r"applicants?|confidential|private|secret\w*|(?:access|auth|bearer|session|refresh|oauth) tokens?|api keys?|"
    r"service accounts?|passwords?|credentials?|"
    r"ibans?|bank|payment details|account numbers?|phone numbers?|home address\w*|email address\w*|ssn|passports?|"
    r"personal|pii|gdpr|minors?|child\w*|ransomware|malware|exploit\w*|weapons?|slurs?|racis\w*|religio\w*|"
    r"ethnic\w*|hate|crisis|end (?:their|his|her|my) life|suicid\w*|self.harm|disclos\w*|leak\w*|expos\w*|"
    r"extract\w* (?:the |all |our |their )?(?:data|keys?|tokens?|secrets?|prompts?|pii|credentials?)|"
    r"embedded in|hidden text|inject\w*|bypass\w*|privilege\w*|enterprise.only|admin.only|"
    r"request headers|performance reviews?|hr|legal (?:risk|issue|exposure|liability|action)|lawsuits?|contracts?|"
    r"tribunal|sued|class action|regulators?|fined|court|liable|liability|"
    r"another company|"
    r"different (?:patient|user|customer|account|company|tenant)|another (?:patient|user|customer|tenant)|"
    r"other (?:patients|users|customers|companies|tenants)|real people|anyone can|any logged.in|"
    r"historial medico|otro paciente|anderer kunden|adressen|telefonnummern|donnees personnelles)\b"
)

# A report that opens by asking for something: a feature tag, or a request as its first words.
_WISH_LEAD = re.compile(
    r"\W{0,3}(?:(?:feature(?: request)?|feat|fr|enhancement|proposal|idea|rfc|request|suggestion|wish)\b|"
    r"(?:please |pls |kindly )?(?:add|support(?! (?:bot|team|agent|ticket|staff|chat|desk|engineer|case|queue|"
    r"copilot|assistant|people|rep)s?\b)|allow|enable|provide|implement|introduce|offer|expose|let(?! me\b))\b|"
    r"(?:(?:please|pls)(?! (?:fix|help|look|check|investigate|revert|hurry|note|advise|see|urgently)\b)|could you|"
    r"can you|can we|could we|would love|we would love|i would love|it would be|it'?d be|"
    r"i'?d (?:like|love)|we'?d (?:like|love)|any plans|is it possible|would it be possible|is there a way|"
    r"how (?:do|can) "
    r"(?:i|we))\b)"
)
_FIRST_SENTENCE = re.compile(r"^.*?(?:[.!?](?:\s|$)|$)")

# An incident with legal consequences is a legal matter whatever else it is; cosmetic and wish reports are
# left alone (an angry "I will sue" on a feature request is still a feature request).
_LEGAL_CONSEQUENCE = re.compile(
    r"\b(?:sanction(?:ed|s)|sued|lawsuits?|class action|tribunal|court (?:ruled|ordered|found)|judge (?:ruled|fined|"
    r"sanctioned|ordered)|regulators? (?:fined|opened|launched|ordered|investigat\w*)|(?:was|were|been) fined|"
    r"held (?:liable|accountable|responsible)|data protection authority|gdpr fine|demanda judicial|"
    r"bussgeld|amende)\b"
)

_NEGATION = re.compile(r"(?:\b(?:no|not|never|without|nor|neither|isn'?t|wasn'?t|aren'?t|weren'?t|don'?t|"
                       r"doesn'?t|didn'?t|cannot|can'?t|sin|ningun\w*|nunca|kein\w*|nicht|nie|pas|aucun\w*|jamais)"
                       r"\b[ ,'-]+(?:\w+[ ,'-]+){0,2})$")
_LEAK_CONTEXT = re.compile(_EXPOSE + r"|\b(?:other|another|someone|every(?:one|body)|wrong (?:user|person))\b")
_SHOUTING = re.compile(r"\b(?:urgent|critical|asap|emergency|blocker|sev ?[01]|p0|!!+)\b|!!+|\b[A-Z]{5,}\b")
_INSTRUCTIONS = re.compile(
    r"(?i)\b(?:ignore (?:all |any |the )?(?:previous|prior|above|earlier) (?:instructions|rules|prompts?)|"
    r"disregard (?:the |all )?(?:above|previous|instructions)|(?:file|classify|grade|mark|label|set) "
    r"(?:this|it|the (?:bug|report|severity|grade|priority))(?: as| to)? (?:grade |severity |sev |p)?[1-5]\b|"
    r"you are now|new instructions:|system:|as an ai)"
)


def normalise(text: str) -> str:
    """Lower case, accents off, runs of one letter cut to two, whitespace folded."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("’", "'").replace("‘", "'")
    text = re.sub(r"([a-z])\1{2,}", r"\1\1", text)
    # A line break ends a sentence ("Title\nAdd thresholds …" starts a new one) unless punctuation already did.
    text = re.sub(r"(?<=[\w)\]'\"`])[ \t]*\n\s*", ". ", text)
    return re.sub(r"\s+", " ", text)


def _matches(signal: Signal, text: str) -> bool:
    for match in signal.pattern.finditer(text):
        if not signal.negatable or not _NEGATION.search(text[max(0, match.start() - 40):match.start()]):
            return True
    return False


def grade_report(text: str, *, model: TextModel | None | Literal["shipped"] = "shipped",
                 corrections: Sequence[Correction] = ()) -> Verdict:
    """Grade a report offline. Works on the redacted text; the raw text goes nowhere."""
    if not text.strip():
        raise EmptyReport("A bug report needs some text: say what went wrong.")
    redaction = redact(text)
    return grade_redacted(redaction, shouting_source=text, model=model, corrections=corrections)


def grade_redacted(redaction: Redaction, *, shouting_source: str | None = None,
                   model: TextModel | None | Literal["shipped"] = "shipped",
                   corrections: Sequence[Correction] = ()) -> Verdict:
    """Grade from a redaction already made (the Slack flow redacts once, before storing).

    The safety floors decide first: a floor is grade 1, whatever follows. Then a team's own corrections
    (a close enough report a person regraded), then the learned model. `model=None` grades by the
    hand-written rules alone, as before the model existed (kept for comparison in the benchmark).
    """
    normalised = normalise(redaction.text)
    # The learned path needs the floors only; the other signals are the rules-only grader's.
    found = _findings(redaction, normalised, SIGNALS if model is None else _FLOOR_SIGNALS)
    notes = _notes(redaction.text, shouting_source or redaction.text)
    if model is None:
        return _by_rules(redaction, normalised, found, notes)
    return _learned(redaction, normalised, found, notes, shipped() if model == "shipped" else model, corrections)


@dataclass(frozen=True)
class _Findings:
    matched: list[Signal]
    floor: bool
    reasons: list[str]  # the floors' reasons first, then every matched signal's


def _findings(redaction: Redaction, normalised: str, signals: Sequence[Signal]) -> _Findings:
    matched = [s for s in signals if _matches(s, normalised)]
    if _WISH_LEAD.match(normalised):
        # "Feature: mask API keys in the logs" asks for protection; it does not report a leak. A critical
        # signal counts only when the rest of the report describes something that happened.
        rest = _FIRST_SENTENCE.sub("", normalised, count=1)
        matched = [s for s in matched if s.grade != 1 or _matches(s, rest)]
    reasons = list(dict.fromkeys(s.reason for s in matched))
    floor = any(s.floor for s in matched)
    for reason, pattern in floors_intl.FLOORS:
        if pattern.search(normalised):
            floor = True
            if reason not in reasons:
                reasons.append(reason)
    sensitive = [k for k in redaction.kinds if k in ALWAYS_SENSITIVE]
    contact = [k for k in redaction.kinds if k not in ALWAYS_SENSITIVE]
    if sensitive:
        floor = True
        reasons.insert(0, f"the report contains {', '.join(_KIND_WORDS[k] for k in sensitive)}")
    elif contact and (_LEAK_CONTEXT.search(normalised) or floors_intl.LEAK_CONTEXT.search(normalised)):
        floor = True
        reasons.insert(0, f"{' and '.join(_KIND_WORDS[k] for k in contact)} shown where it should not be")
    return _Findings(matched, floor, reasons)


def _by_rules(redaction: Redaction, normalised: str, found: _Findings, notes: list[str], *,
              tilt: bool = True) -> Verdict:
    matched, floor, reasons = found.matched, found.floor, list(found.reasons)
    grade = _decide(matched, floor)
    unclear = not floor and all(s.weak for s in matched)
    if tilt and unclear and _SENSITIVE.search(normalised):
        grade = 1
        reasons.append("no clear signal, but it touches personal, security or safety matters: graded critical "
                       "until a person looks")
    reasons += notes
    if grade > 1 and not any(s.grade >= 4 for s in matched) and _LEGAL_CONSEQUENCE.search(normalised):
        grade = 1
        reasons.append("legal consequences are described (a court, regulator, fine or lawsuit)")
    if not matched and grade != 1:
        reasons.append("no clear signal: graded medium for a person to check")
    return Verdict(grade=grade, label=grade_info(grade).label, reasons=tuple(reasons),
                   confidence=_confidence(matched, floor, grade), pii=tuple(redaction.kinds), floor=floor,
                   redacted_text=redaction.text)


def _learned(redaction: Redaction, normalised: str, found: _Findings, notes: list[str], model: TextModel,
             corrections: Sequence[Correction]) -> Verdict:
    vector = model.vector(normalised)
    odds = model.grade.probabilities(vector)
    kinds = model.category.probabilities(vector)
    ranked = sorted(odds, key=odds.__getitem__, reverse=True)
    common = {"pii": tuple(redaction.kinds), "redacted_text": redaction.text}
    if found.floor:
        category = floor_category(found.reasons, kinds)
        reasons = [r for r in found.reasons if r in _FLOOR_REASONS or r.startswith(_FLOOR_LEADS)] or found.reasons
        return Verdict(grade=1, label=grade_info(1).label, reasons=(*reasons, *notes), confidence=0.95,
                       source="rules", floor=True, category=category, **common)
    nearest = closest(vector, corrections)
    if nearest is not None:
        correction, similarity = nearest
        why = f"graded like {correction.readable_id}, which <@{correction.user_id}> changed to {correction.grade}"
        reason = f"{why}: {readable(correction.reason)}" if correction.reason else why  # a person's words, inert
        grade = correction.grade
        return Verdict(grade=grade, label=grade_info(grade).label, reasons=(reason, *notes),
                       confidence=round(similarity, 2), source="team", category=correction.category
                       or _category(kinds, grade), similar_to=correction.readable_id, **common)
    asks = bool(_WISH_LEAD.match(normalised))  # "Enhancement: detect prompt injection": asks, reports nothing
    if odds[1] >= GRADE_ONE_AT and not asks:
        grade = 1
    else:
        # Likeliest, but a critical the model is this unsure of is not called critical: the floors and a
        # person's look are there for it (a flat guess of 1 on a wish costs a team an escalation).
        grade = next(g for g in ranked if g != 1 or (odds[1] >= GRADE_ONE_FLOOR_FREE and not asks))
    runner_up = next(g for g in ranked if g != grade)
    if odds[grade] < NO_SIGNAL_BELOW:
        # The model has nothing to go on (a language or a kind of report it never saw): the hand-written
        # rules grade it, and the card asks a person to look.
        # (Without the rules' "sensitive words" tilt: the model already saw those words and did not say 1.)
        rules = _by_rules(redaction, normalised, _findings(redaction, normalised, SIGNALS), notes, tilt=False)
        pair = (rules.grade, ranked[0] if ranked[0] != rules.grade else ranked[1])
        return replace(rules, category=_category(kinds, rules.grade), unsure=tuple(sorted(pair)),
                       reasons=(*rules.reasons, "the learned model has no clear signal here: a person should look"))
    unsure = tuple(sorted((grade, runner_up))) if odds[grade] - odds[runner_up] < UNSURE_MARGIN or \
        odds[grade] < odds[runner_up] else None
    words = model.words_for(vector, grade)
    said = f" — words like {', '.join(f'“{w}”' for w in words)}" if words else ""
    reasons = [f"the learned model: {grade_info(grade).label.lower()} ({odds[grade]:.0%}){said}"]
    if unsure:
        reasons.append(f"not sure: {unsure[0]} or {unsure[1]}? A person should look")
    return Verdict(grade=grade, label=grade_info(grade).label, reasons=tuple(dict.fromkeys((*reasons, *notes))),
                   confidence=round(odds[grade], 2), source="model", category=_category(kinds, grade),
                   unsure=unsure, **common)


# The learned model says 1 from this probability up, even when another grade is likelier: a missed
# critical costs far more than a second look. Both numbers were chosen by grouped cross-validation.
GRADE_ONE_AT = 0.35
# Below this, the model alone never says 1 even as its likeliest grade.
GRADE_ONE_FLOOR_FREE = 0.3
# Below this the model's likeliest grade is a guess: the rules decide, and a person is asked.
NO_SIGNAL_BELOW = 0.3
UNSURE_MARGIN = 0.1
# A team's correction applies to a new report this close (cosine of the model's features).
SIMILAR_AT = 0.6

_FLOOR_SIGNALS = tuple(s for s in SIGNALS if s.floor)
_FLOOR_LEADS = ("the report contains", "an e-mail", "a phone")  # the PII floors' reasons
_FLOOR_REASONS = frozenset(s.reason for s in SIGNALS if s.floor) | frozenset(r for r, _ in floors_intl.FLOORS)
_FLOOR_CATEGORY = {
    "other users' data is exposed": "personal_data", "personal data is exposed": "personal_data",
    "private or training data is exposed": "personal_data", "confidential data reaches the wrong people":
    "personal_data", "harmful, hateful or unsafe output": "harmful", "unsafe content reaches users": "harmful",
    "harmful or dangerous output": "harmful",
}
_GRADE_ONE_CATEGORIES = ("personal_data", "security", "harmful")


def floor_category(reasons: Sequence[str], kinds: dict[str, float]) -> str:
    """The kind of a grade-1 report: what its first floor says, else the likeliest critical kind."""
    for reason in reasons:
        if reason in _FLOOR_CATEGORY:
            return _FLOOR_CATEGORY[reason]
        if reason.startswith("the report contains"):
            return "security" if any(w in reason for w in ("key", "secret", "password")) else "personal_data"
        if reason.startswith(("an e-mail", "a phone")):
            return "personal_data"
        if reason in _FLOOR_REASONS:
            return "security"
    return max(_GRADE_ONE_CATEGORIES, key=lambda c: kinds.get(c, 0.0))


def _category(kinds: dict[str, float], grade: int) -> str:
    """The likeliest kind of problem; a wish is a feature request only when the grade says so too."""
    if grade == 5:
        return "feature"
    allowed = [c for c in kinds if c != "feature" and (grade == 1 or c not in _GRADE_ONE_CATEGORIES)] or list(kinds)
    return max(allowed, key=kinds.__getitem__)


def closest(vector: Vector, corrections: Sequence[Correction]) -> tuple[Correction, float] | None:
    """The team's regraded report most like this one, if it is close enough to follow."""
    best = max(((c, vector.dot(c.vector)) for c in corrections), key=lambda pair: pair[1], default=None)
    return best if best is not None and best[1] >= SIMILAR_AT else None


_KIND_WORDS = {"card": "a card number", "iban": "a bank account number", "national_id": "a national id number",
               "api_key": "an API key", "private_key": "a private key", "secret": "a secret token",
               "password": "a password", "email": "an e-mail address", "phone": "a phone number"}


def _decide(matched: list[Signal], floor: bool) -> int:
    if floor or any(s.grade == 1 for s in matched):
        return 1
    strong = [s for s in matched if not s.weak]
    defects = sorted(s.grade for s in (strong if any(s.grade < 5 for s in strong) else matched) if s.grade < 5)
    wish = any(s.grade == 5 for s in matched)
    if wish:
        # A wish that mentions a defect in passing ("would be nice if it did not crash") is the defect;
        # one that only names a UI part or a vague "issue" stays a wish.
        serious = [s.grade for s in strong if s.grade <= 2 and s.reason != _EXCEPTION]
        if not any(s.reason == _FILED_AS_FEATURE for s in matched):
            serious += [s.grade for s in matched if s.reason in _CLEAR_DEFECTS]
        return min(serious) if serious else 5
    if defects and defects[0] == 2 and any(s.reason == "occasional wrong output" for s in matched):
        # "Sometimes raises a timeout error": an error now and then is a medium problem, not a broken feature.
        grade_two = {s.reason for s in strong if s.grade == 2}
        if grade_two <= {_EXCEPTION}:
            return 3
    return defects[0] if defects else 3


_FILED_AS_FEATURE = "filed as a feature request"
_EXCEPTION = "an error or exception stops the feature"

# Grade-3/4 reasons concrete enough to outrank wish wording (but not a report filed as a feature request).
_CLEAR_DEFECTS = frozenset({"occasional wrong output", "slow or degraded responses", "a cosmetic or wording problem"})


def _notes(redacted: str, raw: str) -> list[str]:
    notes = []
    if _SHOUTING.search(raw):
        notes.append("urgency wording was noted but does not set the grade")
    if _INSTRUCTIONS.search(redacted):
        notes.append("instructions inside the report were treated as text and ignored")
    return notes


def _confidence(matched: list[Signal], floor: bool, grade: int) -> float:
    if floor:
        return 0.95
    same = sum(1 for s in matched if s.grade == grade)
    if not matched:
        return 0.3
    return min(0.9, 0.55 + 0.15 * same)
