//! The portal's languages and every string a guest can see.
//!
//! English is the default; German, French, Spanish, Dutch, Italian and Portuguese follow the
//! browser's `Accept-Language` ([`negotiate`]). Strings are plain `&'static str`; the few
//! with a value to fill carry a named placeholder (`{unit}`, `{minutes}`, `{until}`) that the
//! page fills with `str::replace` *before* HTML escaping, so a hostile value is escaped.
//!
//! Register: formal where the language expects it from a host (German "Sie", French "vous",
//! Spanish "usted", Dutch "u"), the usual informal "tu" in Italian; Portuguese wording is
//! chosen to read naturally in both Portugal and Brazil.

/// A portal language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    En,
    De,
    Fr,
    Es,
    Nl,
    It,
    Pt,
}

impl Lang {
    pub const ALL: [Lang; 7] = [
        Lang::En,
        Lang::De,
        Lang::Fr,
        Lang::Es,
        Lang::Nl,
        Lang::It,
        Lang::Pt,
    ];

    /// BCP 47 primary tag, for `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::Nl => "nl",
            Lang::It => "it",
            Lang::Pt => "pt",
        }
    }

    /// A language from a tag such as `de`, `DE`, `pt-BR`, `de_CH`; `None` when unsupported.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::En => &EN,
            Lang::De => &DE,
            Lang::Fr => &FR,
            Lang::Es => &ES,
            Lang::Nl => &NL,
            Lang::It => &IT,
            Lang::Pt => &PT,
        }
    }
}

/// Pick the best supported language from an `Accept-Language` header.
///
/// Highest q-value wins, ties go to the earlier entry; `q=0` means "not this one"; region
/// subtags are ignored for matching (`pt-BR` → Portuguese, `de-CH` → German); `*` and
/// unsupported languages are skipped. No header, or nothing supported: English.
/// At most the first 32 entries of a header of at most 1024 bytes are considered.
pub fn negotiate(accept_language: Option<&str>) -> Lang {
    let Some(header) = accept_language else {
        return Lang::En;
    };
    let header = match header.char_indices().nth(1024) {
        Some((cut, _)) => &header[..cut],
        None => header,
    };
    let mut best: Option<(u16, Lang)> = None;
    for entry in header.split(',').take(32) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let mut q = 1000u16;
        for param in parts {
            let param = param.trim();
            if let Some(v) = param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
            {
                q = parse_qvalue(v.trim()).unwrap_or(0);
            }
        }
        if q == 0 {
            continue;
        }
        let Some(lang) = Lang::from_tag(tag) else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l).unwrap_or_default()
}

/// RFC 9110 qvalue (`0`, `0.5`, `1.000`) in thousandths; `None` when malformed.
fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .enumerate()
    {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Every visible string of the portal, in one language.
#[derive(Debug)]
pub struct Texts {
    /// `<title>` of every portal page.
    pub title: &'static str,
    /// Login heading with the unit's name: `{unit}`.
    pub heading: &'static str,
    /// Login heading when the unit is not known.
    pub heading_plain: &'static str,
    pub prompt: &'static str,
    pub code_label: &'static str,
    /// Under the code input, linked by `aria-describedby`.
    pub code_hint: &'static str,
    pub submit: &'static str,
    pub terms_label: &'static str,
    pub terms_link: &'static str,
    /// Small print: where the code comes from.
    pub captive_help: &'static str,

    /// A wrong code and a code of another unit or network read the same.
    pub err_code_invalid: &'static str,
    pub err_code_expired: &'static str,
    pub err_code_not_yet_valid: &'static str,
    pub err_device_limit: &'static str,
    pub err_terms_required: &'static str,
    /// `{minutes}`.
    pub err_too_many_attempts: &'static str,
    pub err_controller_unreachable: &'static str,
    pub err_session_expired: &'static str,
    /// The redirect information is missing or unusable.
    pub err_invalid_request: &'static str,
    /// The redirect is fine but no unit serves this network.
    pub err_unknown_network: &'static str,
    pub err_internal: &'static str,
    /// Heading of the stand-alone error page.
    pub error_heading: &'static str,

    pub success_heading: &'static str,
    pub success_body: &'static str,
    /// `{until}`.
    pub success_until: &'static str,
    pub continue_button: &'static str,
    /// Shown instead of the continue button when there is no safe landing page.
    pub online_neutral: &'static str,
    pub close_page: &'static str,
}

pub static EN: Texts = Texts {
    title: "Guest Wi-Fi",
    heading: "Welcome to {unit}",
    heading_plain: "Welcome",
    prompt: "Enter your access code to get online.",
    code_label: "Access code",
    code_hint: "Letters and numbers. Spaces and dashes don't matter.",
    submit: "Connect",
    terms_label: "I accept the terms of use",
    terms_link: "Read the terms of use",
    captive_help: "You'll find your access code in the messages from your host.",
    err_code_invalid: "This code is not valid for this Wi-Fi network. Please check it and try again.",
    err_code_expired: "This code has expired.",
    err_code_not_yet_valid: "This code is not valid yet. It starts working at check-in.",
    err_device_limit: "This code is already in use on as many devices at once as it allows. Ask your host to take a device you no longer use off this code, then try again.",
    err_terms_required: "Please accept the terms of use to continue.",
    err_too_many_attempts: "Too many attempts. Please try again in {minutes} min.",
    err_controller_unreachable: "The Wi-Fi system can't be reached right now. Please try again in a moment.",
    err_session_expired: "This page has expired. Please reload it and try again.",
    err_invalid_request: "This page is missing information from the Wi-Fi network. Please disconnect from the Wi-Fi, connect again and open any web page.",
    err_unknown_network: "This Wi-Fi network is not set up for guest access. Please contact your host.",
    err_internal: "Something went wrong on our side. Please try again in a moment.",
    error_heading: "Can't connect",
    success_heading: "You're online",
    success_body: "Your device is now connected to the Wi-Fi.",
    success_until: "Your access is valid until {until}.",
    continue_button: "Continue",
    online_neutral: "You can now use the internet as usual.",
    close_page: "You can close this page.",
};

pub static DE: Texts = Texts {
    title: "Gäste-WLAN",
    heading: "Willkommen in {unit}",
    heading_plain: "Willkommen",
    prompt: "Geben Sie Ihren Zugangscode ein, um online zu gehen.",
    code_label: "Zugangscode",
    code_hint: "Buchstaben und Ziffern. Leerzeichen und Bindestriche spielen keine Rolle.",
    submit: "Verbinden",
    terms_label: "Ich akzeptiere die Nutzungsbedingungen",
    terms_link: "Nutzungsbedingungen lesen",
    captive_help: "Ihren Zugangscode finden Sie in den Nachrichten Ihres Gastgebers.",
    err_code_invalid: "Dieser Code ist für dieses WLAN nicht gültig. Bitte prüfen Sie ihn und versuchen Sie es erneut.",
    err_code_expired: "Dieser Code ist abgelaufen.",
    err_code_not_yet_valid: "Dieser Code ist noch nicht gültig. Er funktioniert ab dem Check-in.",
    err_device_limit: "Dieser Code ist bereits auf so vielen Geräten gleichzeitig in Gebrauch, wie er erlaubt. Bitten Sie Ihren Gastgeber, ein Gerät, das Sie nicht mehr nutzen, von diesem Code zu entfernen, und versuchen Sie es dann erneut.",
    err_terms_required: "Bitte akzeptieren Sie die Nutzungsbedingungen, um fortzufahren.",
    err_too_many_attempts: "Zu viele Versuche. Bitte versuchen Sie es in {minutes} Min. erneut.",
    err_controller_unreachable: "Das WLAN-System ist gerade nicht erreichbar. Bitte versuchen Sie es gleich noch einmal.",
    err_session_expired: "Diese Seite ist abgelaufen. Bitte laden Sie sie neu und versuchen Sie es erneut.",
    err_invalid_request: "Dieser Seite fehlen Angaben aus dem WLAN. Bitte trennen Sie die Verbindung zum WLAN, verbinden Sie sich erneut und öffnen Sie eine beliebige Webseite.",
    err_unknown_network: "Dieses WLAN ist nicht für den Gastzugang eingerichtet. Bitte wenden Sie sich an Ihren Gastgeber.",
    err_internal: "Bei uns ist etwas schiefgelaufen. Bitte versuchen Sie es gleich noch einmal.",
    error_heading: "Verbindung nicht möglich",
    success_heading: "Sie sind online",
    success_body: "Ihr Gerät ist jetzt mit dem WLAN verbunden.",
    success_until: "Ihr Zugang ist gültig bis {until}.",
    continue_button: "Weiter",
    online_neutral: "Sie können das Internet jetzt wie gewohnt nutzen.",
    close_page: "Sie können diese Seite schließen.",
};

pub static FR: Texts = Texts {
    title: "Wi-Fi invités",
    heading: "Bienvenue à {unit}",
    heading_plain: "Bienvenue",
    prompt: "Saisissez votre code d'accès pour vous connecter à Internet.",
    code_label: "Code d'accès",
    code_hint: "Lettres et chiffres. Les espaces et les tirets n'ont pas d'importance.",
    submit: "Se connecter",
    terms_label: "J'accepte les conditions d'utilisation",
    terms_link: "Lire les conditions d'utilisation",
    captive_help: "Votre code d'accès se trouve dans les messages de votre hôte.",
    err_code_invalid: "Ce code n'est pas valable pour ce réseau Wi-Fi. Vérifiez-le et réessayez.",
    err_code_expired: "Ce code a expiré.",
    err_code_not_yet_valid: "Ce code n'est pas encore valable. Il fonctionnera à partir de votre arrivée.",
    err_device_limit: "Ce code est déjà utilisé sur autant d'appareils à la fois qu'il le permet. Demandez à votre hôte de retirer de ce code un appareil que vous n'utilisez plus, puis réessayez.",
    err_terms_required: "Veuillez accepter les conditions d'utilisation pour continuer.",
    err_too_many_attempts: "Trop de tentatives. Réessayez dans {minutes} min.",
    err_controller_unreachable: "Le système Wi-Fi est momentanément injoignable. Réessayez dans un instant.",
    err_session_expired: "Cette page a expiré. Rechargez-la et réessayez.",
    err_invalid_request: "Il manque à cette page des informations du réseau Wi-Fi. Déconnectez-vous du Wi-Fi, reconnectez-vous, puis ouvrez une page web.",
    err_unknown_network: "Ce réseau Wi-Fi n'est pas configuré pour l'accès invités. Veuillez contacter votre hôte.",
    err_internal: "Un problème est survenu de notre côté. Réessayez dans un instant.",
    error_heading: "Connexion impossible",
    success_heading: "Vous êtes en ligne",
    success_body: "Votre appareil est maintenant connecté au Wi-Fi.",
    success_until: "Votre accès est valable jusqu'au {until}.",
    continue_button: "Continuer",
    online_neutral: "Vous pouvez maintenant utiliser Internet normalement.",
    close_page: "Vous pouvez fermer cette page.",
};

pub static ES: Texts = Texts {
    title: "Wifi para huéspedes",
    heading: "Le damos la bienvenida a {unit}",
    heading_plain: "Le damos la bienvenida",
    prompt: "Introduzca su código de acceso para conectarse a Internet.",
    code_label: "Código de acceso",
    code_hint: "Letras y números. Los espacios y los guiones no importan.",
    submit: "Conectar",
    terms_label: "Acepto las condiciones de uso",
    terms_link: "Leer las condiciones de uso",
    captive_help: "Encontrará su código de acceso en los mensajes de su anfitrión.",
    err_code_invalid: "Este código no es válido para esta red wifi. Compruébelo e inténtelo de nuevo.",
    err_code_expired: "Este código ha caducado.",
    err_code_not_yet_valid: "Este código aún no es válido. Funcionará a partir de la llegada.",
    err_device_limit: "Este código ya se está usando en tantos dispositivos a la vez como permite. Pida a su anfitrión que quite de este código un dispositivo que ya no use y vuelva a intentarlo.",
    err_terms_required: "Acepte las condiciones de uso para continuar.",
    err_too_many_attempts: "Demasiados intentos. Inténtelo de nuevo dentro de {minutes} min.",
    err_controller_unreachable: "No se puede contactar con el sistema wifi en este momento. Inténtelo de nuevo en unos instantes.",
    err_session_expired: "Esta página ha caducado. Recárguela e inténtelo de nuevo.",
    err_invalid_request: "A esta página le falta información de la red wifi. Desconéctese de la red wifi, vuelva a conectarse y abra cualquier página web.",
    err_unknown_network: "Esta red wifi no está configurada para el acceso de huéspedes. Póngase en contacto con su anfitrión.",
    err_internal: "Algo ha fallado por nuestra parte. Inténtelo de nuevo en unos instantes.",
    error_heading: "No se puede conectar",
    success_heading: "Ya está conectado",
    success_body: "Su dispositivo ya está conectado a la red wifi.",
    success_until: "Su acceso es válido hasta el {until}.",
    continue_button: "Continuar",
    online_neutral: "Ya puede usar Internet con normalidad.",
    close_page: "Puede cerrar esta página.",
};

pub static NL: Texts = Texts {
    title: "Gasten-wifi",
    heading: "Welkom in {unit}",
    heading_plain: "Welkom",
    prompt: "Voer uw toegangscode in om online te gaan.",
    code_label: "Toegangscode",
    code_hint: "Letters en cijfers. Spaties en streepjes maken niet uit.",
    submit: "Verbinden",
    terms_label: "Ik ga akkoord met de gebruiksvoorwaarden",
    terms_link: "Gebruiksvoorwaarden lezen",
    captive_help: "Uw toegangscode vindt u in de berichten van uw verhuurder.",
    err_code_invalid: "Deze code is niet geldig voor dit wifinetwerk. Controleer de code en probeer het opnieuw.",
    err_code_expired: "Deze code is verlopen.",
    err_code_not_yet_valid: "Deze code is nog niet geldig. Hij werkt vanaf het inchecken.",
    err_device_limit: "Deze code is al in gebruik op zoveel apparaten tegelijk als toegestaan. Vraag uw host een apparaat dat u niet meer gebruikt van deze code te halen en probeer het daarna opnieuw.",
    err_terms_required: "Ga akkoord met de gebruiksvoorwaarden om verder te gaan.",
    err_too_many_attempts: "Te veel pogingen. Probeer het over {minutes} min. opnieuw.",
    err_controller_unreachable: "Het wifisysteem is op dit moment niet bereikbaar. Probeer het zo meteen opnieuw.",
    err_session_expired: "Deze pagina is verlopen. Laad de pagina opnieuw en probeer het nog eens.",
    err_invalid_request: "Deze pagina mist gegevens van het wifinetwerk. Verbreek de verbinding met de wifi, maak opnieuw verbinding en open een willekeurige webpagina.",
    err_unknown_network: "Dit wifinetwerk is niet ingesteld voor gasttoegang. Neem contact op met uw verhuurder.",
    err_internal: "Er ging bij ons iets mis. Probeer het zo meteen opnieuw.",
    error_heading: "Verbinden niet mogelijk",
    success_heading: "U bent online",
    success_body: "Uw apparaat is nu verbonden met de wifi.",
    success_until: "Uw toegang is geldig tot {until}.",
    continue_button: "Doorgaan",
    online_neutral: "U kunt het internet nu gewoon gebruiken.",
    close_page: "U kunt deze pagina sluiten.",
};

pub static IT: Texts = Texts {
    title: "Wi-Fi ospiti",
    heading: "Benvenuti a {unit}",
    heading_plain: "Benvenuti",
    prompt: "Inserisci il codice di accesso per collegarti a Internet.",
    code_label: "Codice di accesso",
    code_hint: "Lettere e numeri. Spazi e trattini non contano.",
    submit: "Connetti",
    terms_label: "Accetto le condizioni d'uso",
    terms_link: "Leggi le condizioni d'uso",
    captive_help: "Trovi il codice di accesso nei messaggi del tuo host.",
    err_code_invalid: "Questo codice non è valido per questa rete Wi-Fi. Controllalo e riprova.",
    err_code_expired: "Questo codice è scaduto.",
    err_code_not_yet_valid: "Questo codice non è ancora valido. Funzionerà dal check-in.",
    err_device_limit: "Questo codice è già in uso su tutti i dispositivi consentiti contemporaneamente. Chieda al suo host di rimuovere da questo codice un dispositivo che non usa più, poi riprovi.",
    err_terms_required: "Accetta le condizioni d'uso per continuare.",
    err_too_many_attempts: "Troppi tentativi. Riprova tra {minutes} min.",
    err_controller_unreachable: "Il sistema Wi-Fi non è raggiungibile in questo momento. Riprova tra poco.",
    err_session_expired: "Questa pagina è scaduta. Ricaricala e riprova.",
    err_invalid_request: "In questa pagina mancano informazioni della rete Wi-Fi. Disconnettiti dal Wi-Fi, riconnettiti e apri una pagina web qualsiasi.",
    err_unknown_network: "Questa rete Wi-Fi non è configurata per l'accesso degli ospiti. Contatta il tuo host.",
    err_internal: "Si è verificato un problema da parte nostra. Riprova tra poco.",
    error_heading: "Impossibile connettersi",
    success_heading: "Sei online",
    success_body: "Il tuo dispositivo ora è connesso al Wi-Fi.",
    success_until: "Il tuo accesso è valido fino al {until}.",
    continue_button: "Continua",
    online_neutral: "Ora puoi usare Internet come sempre.",
    close_page: "Puoi chiudere questa pagina.",
};

pub static PT: Texts = Texts {
    title: "Wi-Fi para hóspedes",
    heading: "Boas-vindas a {unit}",
    heading_plain: "Boas-vindas",
    prompt: "Insira o seu código de acesso para ficar online.",
    code_label: "Código de acesso",
    code_hint: "Letras e números. Espaços e hífenes não importam.",
    submit: "Conectar",
    terms_label: "Aceito os termos de uso",
    terms_link: "Ler os termos de uso",
    captive_help: "O seu código de acesso está nas mensagens do seu anfitrião.",
    err_code_invalid: "Este código não é válido para esta rede Wi-Fi. Verifique-o e tente novamente.",
    err_code_expired: "Este código expirou.",
    err_code_not_yet_valid: "Este código ainda não é válido. Funcionará a partir do check-in.",
    err_device_limit: "Este código já está em uso em tantos dispositivos ao mesmo tempo quanto permite. Peça ao seu anfitrião para remover deste código um dispositivo que já não utiliza e tente novamente.",
    err_terms_required: "Aceite os termos de uso para continuar.",
    err_too_many_attempts: "Muitas tentativas. Tente novamente em {minutes} min.",
    err_controller_unreachable: "O sistema Wi-Fi não está acessível neste momento. Tente novamente daqui a pouco.",
    err_session_expired: "Esta página expirou. Recarregue-a e tente novamente.",
    err_invalid_request: "Faltam nesta página informações da rede Wi-Fi. Desconecte-se do Wi-Fi, conecte-se novamente e abra qualquer página da web.",
    err_unknown_network: "Esta rede Wi-Fi não está configurada para acesso de hóspedes. Fale com o seu anfitrião.",
    err_internal: "Ocorreu um erro do nosso lado. Tente novamente daqui a pouco.",
    error_heading: "Não foi possível conectar",
    success_heading: "Está online",
    success_body: "O seu dispositivo está agora conectado ao Wi-Fi.",
    success_until: "O seu acesso é válido até {until}.",
    continue_button: "Continuar",
    online_neutral: "Já pode usar a Internet normalmente.",
    close_page: "Pode fechar esta página.",
};

/// Strings of the pages after login (status, welcome, terms, disconnect), in one language.
/// Placeholders: `{active}`, `{max}`.
#[derive(Debug)]
pub struct GuestTexts {
    pub status_heading: &'static str,
    pub status_online: &'static str,
    pub time_left_label: &'static str,
    pub ends_label: &'static str,
    pub devices_label: &'static str,
    /// `{active}` and `{max}`.
    pub devices_of: &'static str,
    /// `{active}`; no device limit.
    pub devices_unlimited: &'static str,
    pub host_label: &'static str,
    pub checkout_label: &'static str,
    pub disconnect_button: &'static str,
    pub disconnect_hint: &'static str,
    pub disconnected_heading: &'static str,
    pub disconnected_body: &'static str,
    /// The success page's link to the status page.
    pub status_link: &'static str,
    /// Singular and plural.
    pub day: (&'static str, &'static str),
    pub hour: (&'static str, &'static str),
    pub minute: (&'static str, &'static str),
    /// Joins the two largest units of a duration ("2 days and 3 hours").
    pub and: &'static str,
    pub under_a_minute: &'static str,
    /// Monday first.
    pub weekdays: [&'static str; 7],
    /// Between the weekday and the date ("Saturday, 2025-03-15 11:00", "samedi 15/03/2025 11:00").
    pub weekday_sep: &'static str,
    /// The status page for a device that is not online (and no login form can be shown).
    pub offline_heading: &'static str,
    pub offline_body: &'static str,
}

impl Lang {
    /// The strings of the pages after login.
    pub fn guest(self) -> &'static GuestTexts {
        match self {
            Lang::En => &GUEST_EN,
            Lang::De => &GUEST_DE,
            Lang::Fr => &GUEST_FR,
            Lang::Es => &GUEST_ES,
            Lang::Nl => &GUEST_NL,
            Lang::It => &GUEST_IT,
            Lang::Pt => &GUEST_PT,
        }
    }
}

pub static GUEST_EN: GuestTexts = GuestTexts {
    status_heading: "Your Wi-Fi access",
    status_online: "This device is online.",
    time_left_label: "Time left",
    ends_label: "Access ends",
    devices_label: "Devices",
    devices_of: "{active} of {max} in use",
    devices_unlimited: "{active} in use",
    host_label: "Your host",
    checkout_label: "Check-out",
    disconnect_button: "Disconnect this device",
    disconnect_hint:
        "Only this device goes offline. You can connect it again later with your code.",
    disconnected_heading: "This device is disconnected",
    disconnected_body: "To go online again, open any web page and enter your access code.",
    status_link: "See your time left and devices",
    day: ("day", "days"),
    hour: ("hour", "hours"),
    minute: ("minute", "minutes"),
    and: "and",
    under_a_minute: "less than a minute",
    weekdays: [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ],
    weekday_sep: ", ",
    offline_heading: "This device is not online",
    offline_body: "Open any website in your browser: the Wi-Fi shows the login page, where you enter your code.",
};

pub static GUEST_DE: GuestTexts = GuestTexts {
    status_heading: "Ihr WLAN-Zugang",
    status_online: "Dieses Gerät ist online.",
    time_left_label: "Verbleibende Zeit",
    ends_label: "Zugang endet",
    devices_label: "Geräte",
    devices_of: "{active} von {max} in Nutzung",
    devices_unlimited: "{active} in Nutzung",
    host_label: "Ihr Gastgeber",
    checkout_label: "Abreise",
    disconnect_button: "Dieses Gerät trennen",
    disconnect_hint: "Nur dieses Gerät geht offline. Sie können es später mit Ihrem Code wieder verbinden.",
    disconnected_heading: "Dieses Gerät ist getrennt",
    disconnected_body: "Um wieder online zu gehen, öffnen Sie eine beliebige Webseite und geben Sie Ihren Zugangscode ein.",
    status_link: "Verbleibende Zeit und Geräte ansehen",
    day: ("Tag", "Tage"),
    hour: ("Stunde", "Stunden"),
    minute: ("Minute", "Minuten"),
    and: "und",
    under_a_minute: "weniger als eine Minute",
    weekdays: ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"],
    weekday_sep: ", ",
    offline_heading: "Dieses Gerät ist nicht online",
    offline_body: "Öffnen Sie eine beliebige Website im Browser: Das WLAN zeigt dann die Anmeldeseite, auf der Sie Ihren Code eingeben.",
};

pub static GUEST_FR: GuestTexts = GuestTexts {
    status_heading: "Votre accès Wi-Fi",
    status_online: "Cet appareil est en ligne.",
    time_left_label: "Temps restant",
    ends_label: "Fin de l'accès",
    devices_label: "Appareils",
    devices_of: "{active} sur {max} utilisés",
    devices_unlimited: "{active} en service",
    host_label: "Votre hôte",
    checkout_label: "Départ",
    disconnect_button: "Déconnecter cet appareil",
    disconnect_hint:
        "Seul cet appareil est déconnecté. Vous pourrez le reconnecter plus tard avec votre code.",
    disconnected_heading: "Cet appareil est déconnecté",
    disconnected_body:
        "Pour vous reconnecter, ouvrez une page web et saisissez votre code d'accès.",
    status_link: "Voir le temps restant et les appareils",
    day: ("jour", "jours"),
    hour: ("heure", "heures"),
    minute: ("minute", "minutes"),
    and: "et",
    under_a_minute: "moins d'une minute",
    weekdays: [
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
    ],
    weekday_sep: " ",
    offline_heading: "Cet appareil n’est pas connecté",
    offline_body: "Ouvrez n’importe quel site web dans votre navigateur : le Wi-Fi affiche la page de connexion, où vous saisissez votre code.",
};

pub static GUEST_ES: GuestTexts = GuestTexts {
    status_heading: "Su acceso wifi",
    status_online: "Este dispositivo está conectado.",
    time_left_label: "Tiempo restante",
    ends_label: "El acceso termina",
    devices_label: "Dispositivos",
    devices_of: "{active} de {max} en uso",
    devices_unlimited: "{active} en uso",
    host_label: "Su anfitrión",
    checkout_label: "Salida",
    disconnect_button: "Desconectar este dispositivo",
    disconnect_hint:
        "Solo este dispositivo se desconecta. Puede volver a conectarlo más tarde con su código.",
    disconnected_heading: "Este dispositivo está desconectado",
    disconnected_body:
        "Para volver a conectarse, abra cualquier página web e introduzca su código de acceso.",
    status_link: "Ver el tiempo restante y los dispositivos",
    day: ("día", "días"),
    hour: ("hora", "horas"),
    minute: ("minuto", "minutos"),
    and: "y",
    under_a_minute: "menos de un minuto",
    weekdays: [
        "lunes",
        "martes",
        "miércoles",
        "jueves",
        "viernes",
        "sábado",
        "domingo",
    ],
    weekday_sep: " ",
    offline_heading: "Este dispositivo no está conectado",
    offline_body: "Abra cualquier sitio web en su navegador: la red Wi-Fi mostrará la página de acceso, donde puede introducir su código.",
};

pub static GUEST_NL: GuestTexts = GuestTexts {
    status_heading: "Uw wifitoegang",
    status_online: "Dit apparaat is online.",
    time_left_label: "Resterende tijd",
    ends_label: "Toegang eindigt",
    devices_label: "Apparaten",
    devices_of: "{active} van {max} in gebruik",
    devices_unlimited: "{active} in gebruik",
    host_label: "Uw verhuurder",
    checkout_label: "Vertrek",
    disconnect_button: "Dit apparaat loskoppelen",
    disconnect_hint:
        "Alleen dit apparaat gaat offline. U kunt het later opnieuw verbinden met uw code.",
    disconnected_heading: "Dit apparaat is losgekoppeld",
    disconnected_body:
        "Open een willekeurige webpagina en voer uw toegangscode in om weer online te gaan.",
    status_link: "Resterende tijd en apparaten bekijken",
    day: ("dag", "dagen"),
    hour: ("uur", "uur"),
    minute: ("minuut", "minuten"),
    and: "en",
    under_a_minute: "minder dan een minuut",
    weekdays: [
        "maandag",
        "dinsdag",
        "woensdag",
        "donderdag",
        "vrijdag",
        "zaterdag",
        "zondag",
    ],
    weekday_sep: " ",
    offline_heading: "Dit apparaat is niet online",
    offline_body: "Open een willekeurige website in uw browser: de wifi toont dan de inlogpagina, waar u uw code invoert.",
};

pub static GUEST_IT: GuestTexts = GuestTexts {
    status_heading: "Il tuo accesso Wi-Fi",
    status_online: "Questo dispositivo è online.",
    time_left_label: "Tempo rimanente",
    ends_label: "L'accesso termina",
    devices_label: "Dispositivi",
    devices_of: "{active} di {max} in uso",
    devices_unlimited: "{active} in uso",
    host_label: "Il tuo host",
    checkout_label: "Partenza",
    disconnect_button: "Disconnetti questo dispositivo",
    disconnect_hint:
        "Solo questo dispositivo va offline. Potrai ricollegarlo più tardi con il tuo codice.",
    disconnected_heading: "Questo dispositivo è disconnesso",
    disconnected_body:
        "Per tornare online, apri una pagina web qualsiasi e inserisci il tuo codice di accesso.",
    status_link: "Vedi il tempo rimanente e i dispositivi",
    day: ("giorno", "giorni"),
    hour: ("ora", "ore"),
    minute: ("minuto", "minuti"),
    and: "e",
    under_a_minute: "meno di un minuto",
    weekdays: [
        "lunedì",
        "martedì",
        "mercoledì",
        "giovedì",
        "venerdì",
        "sabato",
        "domenica",
    ],
    weekday_sep: " ",
    offline_heading: "Questo dispositivo non è connesso",
    offline_body: "Apri un sito web qualsiasi nel browser: la rete Wi-Fi mostra la pagina di accesso, dove inserire il codice.",
};

pub static GUEST_PT: GuestTexts = GuestTexts {
    status_heading: "O seu acesso Wi-Fi",
    status_online: "Este dispositivo está online.",
    time_left_label: "Tempo restante",
    ends_label: "O acesso termina",
    devices_label: "Dispositivos",
    devices_of: "{active} de {max} em uso",
    devices_unlimited: "{active} em uso",
    host_label: "O seu anfitrião",
    checkout_label: "Saída",
    disconnect_button: "Desconectar este dispositivo",
    disconnect_hint:
        "Só este dispositivo fica offline. Pode voltar a conectá-lo mais tarde com o seu código.",
    disconnected_heading: "Este dispositivo está desconectado",
    disconnected_body:
        "Para voltar a ficar online, abra qualquer página web e insira o seu código de acesso.",
    status_link: "Ver o tempo restante e os dispositivos",
    day: ("dia", "dias"),
    hour: ("hora", "horas"),
    minute: ("minuto", "minutos"),
    and: "e",
    under_a_minute: "menos de um minuto",
    weekdays: [
        "segunda-feira",
        "terça-feira",
        "quarta-feira",
        "quinta-feira",
        "sexta-feira",
        "sábado",
        "domingo",
    ],
    weekday_sep: " ",
    offline_heading: "Este dispositivo não está ligado à internet",
    offline_body: "Abra qualquer site no navegador: a rede Wi-Fi mostra a página de acesso, onde introduz o seu código.",
};

/// A duration as a guest reads it: the two largest units ("2 days and 3 hours", "45
/// minutes"), rounded down; under a minute, "less than a minute".
pub fn duration_words(lang: Lang, secs: u64) -> String {
    let g = lang.guest();
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let word = |n: u64, w: (&str, &str)| format!("{n} {}", if n == 1 { w.0 } else { w.1 });
    let parts: Vec<String> = [(d, g.day), (h, g.hour), (m, g.minute)]
        .into_iter()
        .skip_while(|(n, _)| *n == 0)
        .take(2)
        .filter(|(n, _)| *n > 0)
        .map(|(n, w)| word(n, w))
        .collect();
    match parts.as_slice() {
        [] => g.under_a_minute.to_owned(),
        [one] => one.clone(),
        [a, b, ..] => format!("{a} {} {b}", g.and),
    }
}

/// Strings of the portal's checks of who is asking and what they type (issue 13): the
/// last-name field a unit may require with short codes, and what a guest is told when short
/// codes are paused or the page belongs to another address. No placeholders.
#[derive(Debug)]
pub struct GuardTexts {
    pub last_name_label: &'static str,
    /// Under the last-name input.
    pub last_name_hint: &'static str,
    pub err_last_name_needed: &'static str,
    /// The unit's short-code budget (or the global ceiling) is spent: what still works.
    pub err_short_codes_paused: &'static str,
    /// The redirect's address is not the one the portal sees.
    pub err_address_mismatch: &'static str,
}

impl Lang {
    /// The strings of the portal's checks.
    pub fn guard(self) -> &'static GuardTexts {
        match self {
            Lang::En => &GUARD_EN,
            Lang::De => &GUARD_DE,
            Lang::Fr => &GUARD_FR,
            Lang::Es => &GUARD_ES,
            Lang::Nl => &GUARD_NL,
            Lang::It => &GUARD_IT,
            Lang::Pt => &GUARD_PT,
        }
    }
}

pub static GUARD_EN: GuardTexts = GuardTexts {
    last_name_label: "Last name on the booking",
    last_name_hint: "Only needed with a short booking code, such as a 4-digit door code.",
    err_last_name_needed: "With a short booking code, please also enter the last name on the booking.",
    err_short_codes_paused: "Short booking codes can't be used on this Wi-Fi for a while because of too many wrong attempts. Please use the longer access code from your host's messages, or try again later.",
    err_address_mismatch: "This page was opened for another device or connection. Please disconnect from the Wi-Fi, connect again and open any web page.",
};

pub static GUARD_DE: GuardTexts = GuardTexts {
    last_name_label: "Nachname laut Buchung",
    last_name_hint: "Nur mit einem kurzen Buchungscode nötig, etwa einem 4-stelligen Türcode.",
    err_last_name_needed: "Bitte geben Sie zu einem kurzen Buchungscode auch den Nachnamen laut Buchung ein.",
    err_short_codes_paused: "Kurze Buchungscodes können in diesem WLAN wegen zu vieler falscher Versuche eine Weile nicht verwendet werden. Bitte nutzen Sie den längeren Zugangscode aus den Nachrichten Ihres Gastgebers oder versuchen Sie es später erneut.",
    err_address_mismatch: "Diese Seite wurde für ein anderes Gerät oder eine andere Verbindung geöffnet. Bitte trennen Sie die Verbindung zum WLAN, verbinden Sie sich erneut und öffnen Sie eine beliebige Webseite.",
};

pub static GUARD_FR: GuardTexts = GuardTexts {
    last_name_label: "Nom de famille de la réservation",
    last_name_hint: "Nécessaire uniquement avec un code de réservation court, comme un code de porte à 4 chiffres.",
    err_last_name_needed: "Avec un code de réservation court, saisissez aussi le nom de famille de la réservation.",
    err_short_codes_paused: "Les codes de réservation courts ne peuvent pas être utilisés sur ce Wi-Fi pendant un moment, à cause de trop de tentatives erronées. Utilisez le code d'accès plus long figurant dans les messages de votre hôte, ou réessayez plus tard.",
    err_address_mismatch: "Cette page a été ouverte pour un autre appareil ou une autre connexion. Déconnectez-vous du Wi-Fi, reconnectez-vous, puis ouvrez une page web.",
};

pub static GUARD_ES: GuardTexts = GuardTexts {
    last_name_label: "Apellido de la reserva",
    last_name_hint: "Solo es necesario con un código de reserva corto, como un código de puerta de 4 cifras.",
    err_last_name_needed: "Con un código de reserva corto, introduzca también el apellido de la reserva.",
    err_short_codes_paused: "Los códigos de reserva cortos no se pueden usar en esta red wifi durante un tiempo por demasiados intentos fallidos. Use el código de acceso más largo de los mensajes de su anfitrión o inténtelo de nuevo más tarde.",
    err_address_mismatch: "Esta página se abrió para otro dispositivo u otra conexión. Desconéctese de la red wifi, vuelva a conectarse y abra cualquier página web.",
};

pub static GUARD_NL: GuardTexts = GuardTexts {
    last_name_label: "Achternaam op de boeking",
    last_name_hint: "Alleen nodig bij een korte boekingscode, zoals een deurcode van 4 cijfers.",
    err_last_name_needed: "Voer bij een korte boekingscode ook de achternaam op de boeking in.",
    err_short_codes_paused: "Korte boekingscodes kunnen door te veel foute pogingen een tijdje niet op deze wifi worden gebruikt. Gebruik de langere toegangscode uit de berichten van uw verhuurder, of probeer het later opnieuw.",
    err_address_mismatch: "Deze pagina is geopend voor een ander apparaat of een andere verbinding. Verbreek de verbinding met de wifi, maak opnieuw verbinding en open een willekeurige webpagina.",
};

pub static GUARD_IT: GuardTexts = GuardTexts {
    last_name_label: "Cognome della prenotazione",
    last_name_hint: "Serve solo con un codice di prenotazione breve, come un codice porta di 4 cifre.",
    err_last_name_needed: "Con un codice di prenotazione breve, inserisci anche il cognome della prenotazione.",
    err_short_codes_paused: "I codici di prenotazione brevi non si possono usare su questa rete Wi-Fi per un po', a causa di troppi tentativi errati. Usa il codice di accesso più lungo che trovi nei messaggi del tuo host, oppure riprova più tardi.",
    err_address_mismatch: "Questa pagina è stata aperta per un altro dispositivo o un'altra connessione. Disconnettiti dal Wi-Fi, riconnettiti e apri una pagina web qualsiasi.",
};

pub static GUARD_PT: GuardTexts = GuardTexts {
    last_name_label: "Sobrenome (apelido) da reserva",
    last_name_hint: "Só é necessário com um código de reserva curto, como um código de porta de 4 dígitos.",
    err_last_name_needed: "Com um código de reserva curto, insira também o sobrenome (apelido) da reserva.",
    err_short_codes_paused: "Os códigos de reserva curtos não podem ser usados neste Wi-Fi durante algum tempo, por causa de demasiadas tentativas erradas. Use o código de acesso mais longo das mensagens do seu anfitrião ou tente novamente mais tarde.",
    err_address_mismatch: "Esta página foi aberta para outro dispositivo ou outra conexão. Desconecte-se do Wi-Fi, conecte-se novamente e abra qualquer página da web.",
};

#[cfg(test)]
mod tests {
    use super::*;

    /// All fields, by name, so the checks below cover every string without repeating them.
    fn fields(t: &Texts) -> Vec<(&'static str, &'static str)> {
        vec![
            ("title", t.title),
            ("heading", t.heading),
            ("heading_plain", t.heading_plain),
            ("prompt", t.prompt),
            ("code_label", t.code_label),
            ("code_hint", t.code_hint),
            ("submit", t.submit),
            ("terms_label", t.terms_label),
            ("terms_link", t.terms_link),
            ("captive_help", t.captive_help),
            ("err_code_invalid", t.err_code_invalid),
            ("err_code_expired", t.err_code_expired),
            ("err_code_not_yet_valid", t.err_code_not_yet_valid),
            ("err_device_limit", t.err_device_limit),
            ("err_terms_required", t.err_terms_required),
            ("err_too_many_attempts", t.err_too_many_attempts),
            ("err_controller_unreachable", t.err_controller_unreachable),
            ("err_session_expired", t.err_session_expired),
            ("err_invalid_request", t.err_invalid_request),
            ("err_unknown_network", t.err_unknown_network),
            ("err_internal", t.err_internal),
            ("error_heading", t.error_heading),
            ("success_heading", t.success_heading),
            ("success_body", t.success_body),
            ("success_until", t.success_until),
            ("continue_button", t.continue_button),
            ("online_neutral", t.online_neutral),
            ("close_page", t.close_page),
        ]
    }

    #[test]
    fn every_language_is_complete_with_the_right_placeholders() {
        for lang in Lang::ALL {
            for (name, s) in fields(lang.texts()) {
                assert!(!s.trim().is_empty(), "{lang:?}.{name} is empty");
                let want: &[&str] = match name {
                    "heading" => &["{unit}"],
                    "err_too_many_attempts" => &["{minutes}"],
                    "success_until" => &["{until}"],
                    _ => &[],
                };
                let found: Vec<&str> = ["{unit}", "{minutes}", "{until}"]
                    .into_iter()
                    .filter(|p| s.contains(p))
                    .collect();
                assert_eq!(found, want, "{lang:?}.{name}: {s}");
                assert_eq!(
                    s.matches('{').count(),
                    want.len(),
                    "{lang:?}.{name} has a stray brace"
                );
            }
        }
    }

    #[test]
    fn translations_are_translated() {
        // Brand-like words ("Wi-Fi", "Continuar") may coincide; sentences may not.
        for lang in Lang::ALL.into_iter().filter(|l| *l != Lang::En) {
            let same: Vec<&str> = fields(lang.texts())
                .into_iter()
                .zip(fields(&EN))
                .filter(|((_, a), (_, b))| a == b)
                .map(|((n, _), _)| n)
                .collect();
            assert!(same.is_empty(), "{lang:?} copies English for {same:?}");
        }
        // And no two languages share a whole sentence such as the invalid-code error.
        for a in Lang::ALL {
            for b in Lang::ALL.into_iter().filter(|b| *b != a) {
                assert_ne!(
                    a.texts().err_code_invalid,
                    b.texts().err_code_invalid,
                    "{a:?}/{b:?}"
                );
            }
        }
    }

    #[test]
    fn tags() {
        assert_eq!(Lang::from_tag("de"), Some(Lang::De));
        assert_eq!(Lang::from_tag("pt-BR"), Some(Lang::Pt));
        assert_eq!(Lang::from_tag("FR_ca"), Some(Lang::Fr));
        assert_eq!(Lang::from_tag("sv"), None);
        assert_eq!(Lang::from_tag(""), None);
        for l in Lang::ALL {
            assert_eq!(Lang::from_tag(l.code()), Some(l));
        }
    }

    #[test]
    fn negotiation() {
        let cases: &[(Option<&str>, Lang)] = &[
            (None, Lang::En),
            (Some(""), Lang::En),
            (Some("*"), Lang::En),
            (Some("de"), Lang::De),
            (Some("de-CH"), Lang::De),
            (Some("pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::Pt),
            (Some("sv-SE,sv;q=0.9,fr;q=0.8,en;q=0.5"), Lang::Fr),
            (Some("en;q=0.5, nl;q=0.8"), Lang::Nl),
            (Some("en;q=0.5,NL;Q=0.8"), Lang::Nl),
            (Some("it;q=0, es"), Lang::Es),
            (Some("de;q=0.000,fr;q=0.001"), Lang::Fr),
            (Some("es;q=0.7,it;q=0.7"), Lang::Es),
            (Some("ja,zh-CN;q=0.9"), Lang::En),
            (Some("fr;q=garbage,de;q=0.1"), Lang::De),
            (Some("fr;q=1.5,de;q=0.1"), Lang::De),
            (Some("de ; q=0.4 , fr ; q=0.6"), Lang::Fr),
            (Some("en-GB,en;q=0.9,de;q=0.8"), Lang::En),
        ];
        for (header, want) in cases {
            assert_eq!(negotiate(*header), *want, "{header:?}");
        }
    }

    #[test]
    fn negotiation_is_bounded() {
        // The supported language sits after the first 32 entries: ignored.
        let header = format!("{}de", "xx,".repeat(40));
        assert_eq!(negotiate(Some(&header)), Lang::En);
        let header = format!("{}de", "x".repeat(5000));
        assert_eq!(negotiate(Some(&header)), Lang::En);
        // Multi-byte input is cut on a character boundary, not a panic.
        let header = "ü".repeat(2000);
        assert_eq!(negotiate(Some(&header)), Lang::En);
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.5555"), None);
        assert_eq!(parse_qvalue("-0.5"), None);
        assert_eq!(parse_qvalue(""), None);
    }
}

#[cfg(test)]
mod guest_tests {
    use super::*;

    fn fields(t: &GuestTexts) -> Vec<(&'static str, &'static str)> {
        let mut v = vec![
            ("status_heading", t.status_heading),
            ("status_online", t.status_online),
            ("time_left_label", t.time_left_label),
            ("ends_label", t.ends_label),
            ("devices_label", t.devices_label),
            ("devices_of", t.devices_of),
            ("devices_unlimited", t.devices_unlimited),
            ("host_label", t.host_label),
            ("checkout_label", t.checkout_label),
            ("disconnect_button", t.disconnect_button),
            ("disconnect_hint", t.disconnect_hint),
            ("disconnected_heading", t.disconnected_heading),
            ("disconnected_body", t.disconnected_body),
            ("status_link", t.status_link),
            ("and", t.and),
            ("under_a_minute", t.under_a_minute),
        ];
        v.extend(t.weekdays.iter().map(|w| ("weekday", *w)));
        v
    }

    #[test]
    fn every_language_is_complete_with_the_right_placeholders() {
        for lang in Lang::ALL {
            let t = lang.guest();
            for (name, s) in fields(t) {
                assert!(!s.trim().is_empty(), "{lang:?}.{name} is empty");
                let want: &[&str] = match name {
                    "devices_of" => &["{active}", "{max}"],
                    "devices_unlimited" => &["{active}"],
                    _ => &[],
                };
                for p in want {
                    assert!(s.contains(p), "{lang:?}.{name} lacks {p}");
                }
                assert_eq!(s.matches('{').count(), want.len(), "{lang:?}.{name}: {s}");
            }
            for (a, b) in [t.day, t.hour, t.minute] {
                assert!(!a.is_empty() && !b.is_empty(), "{lang:?}");
            }
        }
    }

    #[test]
    fn translations_are_translated() {
        for lang in Lang::ALL.into_iter().filter(|l| *l != Lang::En) {
            let same: Vec<&str> = fields(lang.guest())
                .into_iter()
                .zip(fields(&GUEST_EN))
                .filter(|((_, a), (_, b))| a == b)
                .map(|((n, _), _)| n)
                .collect();
            assert!(same.is_empty(), "{lang:?} copies English for {same:?}");
        }
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(Lang::En, 0), "less than a minute");
        assert_eq!(duration_words(Lang::En, 59), "less than a minute");
        assert_eq!(duration_words(Lang::En, 60), "1 minute");
        assert_eq!(duration_words(Lang::En, 45 * 60 + 59), "45 minutes");
        assert_eq!(duration_words(Lang::En, 3600), "1 hour");
        assert_eq!(duration_words(Lang::En, 3600 + 60), "1 hour and 1 minute");
        // The two largest units, even when the middle one is zero.
        assert_eq!(duration_words(Lang::En, 2 * 86_400 + 5 * 60), "2 days");
        assert_eq!(
            duration_words(Lang::En, 2 * 86_400 + 3 * 3600 + 59 * 60),
            "2 days and 3 hours"
        );
        assert_eq!(
            duration_words(Lang::De, 86_400 + 2 * 3600),
            "1 Tag und 2 Stunden"
        );
        assert_eq!(
            duration_words(Lang::Fr, 3 * 3600 + 60),
            "3 heures et 1 minute"
        );
        assert_eq!(duration_words(Lang::Nl, 2 * 3600), "2 uur");
        assert_eq!(duration_words(Lang::Pt, 30), "menos de um minuto");
    }
}

#[cfg(test)]
mod guard_tests {
    use super::*;

    fn fields(t: &GuardTexts) -> Vec<(&'static str, &'static str)> {
        vec![
            ("last_name_label", t.last_name_label),
            ("last_name_hint", t.last_name_hint),
            ("err_last_name_needed", t.err_last_name_needed),
            ("err_short_codes_paused", t.err_short_codes_paused),
            ("err_address_mismatch", t.err_address_mismatch),
        ]
    }

    #[test]
    fn every_language_is_complete_translated_and_without_placeholders() {
        for lang in Lang::ALL {
            for (name, s) in fields(lang.guard()) {
                assert!(!s.trim().is_empty(), "{lang:?}.{name} is empty");
                assert!(!s.contains('{'), "{lang:?}.{name} has a placeholder: {s}");
            }
        }
        for lang in Lang::ALL.into_iter().filter(|l| *l != Lang::En) {
            let same: Vec<&str> = fields(lang.guard())
                .into_iter()
                .zip(fields(&GUARD_EN))
                .filter(|((_, a), (_, b))| a == b)
                .map(|((n, _), _)| n)
                .collect();
            assert!(same.is_empty(), "{lang:?} copies English for {same:?}");
        }
    }
}
