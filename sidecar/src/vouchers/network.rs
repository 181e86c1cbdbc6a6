//! Where a guest's device is: the domain half of the controller's redirect.
//!
//! The portal parses the redirect in all its spellings (`portal::redirect`); what the rules
//! need from it — the device, the site it is on, and whether it came through an access point
//! or the gateway — is this plain value. Keeping it here (and not in `portal/`) means the
//! domain and the use cases never import the portal.

use std::net::IpAddr;

use crate::net::Mac;
use crate::vouchers::model::Unit;

/// Where the device is attached: what the controller's authorize call needs besides the MAC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// Wireless, through an EAP: the controller wants `apMac`, `ssidName`, `radioId`.
    Ap {
        ap_mac: Mac,
        ssid: Option<String>,
        radio_id: Option<u8>,
    },
    /// Wired, through the gateway's LAN portal: `gatewayMac`, `vid`.
    Gateway { gateway_mac: Mac, vid: Option<u16> },
}

/// A guest's device as the controller's redirect described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub client_mac: Mac,
    pub client_ip: Option<IpAddr>,
    /// The Omada site name from the redirect, when it carried one.
    pub site: Option<String>,
    pub attachment: Attachment,
}

/// Does this device come from one of the unit's networks? Its site (when the redirect named
/// one, compared without case), its AP (when the unit lists APs), and its SSID or VLAN (when
/// the unit lists any).
pub fn on_unit_network(unit: &Unit, d: &Device) -> bool {
    if let Some(site) = d.site.as_deref() {
        if !site.eq_ignore_ascii_case(&unit.omada_site) {
            return false;
        }
    }
    let restricted = !unit.ssids.is_empty() || !unit.vlans.is_empty();
    match &d.attachment {
        Attachment::Ap { ap_mac, ssid, .. } => {
            if !unit.ap_macs.is_empty() && !unit.ap_macs.contains(ap_mac) {
                return false;
            }
            !restricted || ssid.as_ref().is_some_and(|s| unit.ssids.contains(s))
        }
        Attachment::Gateway { vid, .. } => {
            !restricted || vid.is_some_and(|v| unit.vlans.contains(&v))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> Unit {
        let t = time::OffsetDateTime::UNIX_EPOCH;
        Unit {
            unit_id: "u".into(),
            name: "U".into(),
            omada_site: "Default".into(),
            ssids: vec!["Guest".into()],
            vlans: vec![20],
            ap_macs: vec![],
            plume_customer_id: None,
            plume_location_id: None,
            checkin_grace_minutes: 0,
            checkout_grace_minutes: 0,
            terms_url: None,
            time_zone: None,
            access: Default::default(),
            created_at: t,
            updated_at: t,
            omada_site_id: None,
            stay: Default::default(),
            guest_checks: Default::default(),
            guest_page: Default::default(),
        }
    }

    fn ap(site: Option<&str>, ssid: Option<&str>) -> Device {
        Device {
            client_mac: "02-00-00-00-00-01".parse().unwrap(),
            client_ip: None,
            site: site.map(str::to_owned),
            attachment: Attachment::Ap {
                ap_mac: "B0-95-75-15-93-44".parse().unwrap(),
                ssid: ssid.map(str::to_owned),
                radio_id: Some(1),
            },
        }
    }

    #[test]
    fn site_ssid_vlan_and_ap_list_decide() {
        let mut u = unit();
        assert!(on_unit_network(&u, &ap(Some("default"), Some("Guest"))));
        assert!(on_unit_network(&u, &ap(None, Some("Guest"))));
        assert!(!on_unit_network(&u, &ap(Some("Other"), Some("Guest"))));
        assert!(!on_unit_network(&u, &ap(Some("Default"), Some("Staff"))));
        assert!(!on_unit_network(&u, &ap(Some("Default"), None)));
        let wired = |vid| Device {
            attachment: Attachment::Gateway {
                gateway_mac: "B0-95-75-15-93-45".parse().unwrap(),
                vid,
            },
            ..ap(None, None)
        };
        assert!(on_unit_network(&u, &wired(Some(20))));
        assert!(!on_unit_network(&u, &wired(Some(30))));
        assert!(!on_unit_network(&u, &wired(None)));
        u.ap_macs = vec!["B0-95-75-15-93-99".parse().unwrap()];
        assert!(!on_unit_network(&u, &ap(None, Some("Guest"))));
        u.ap_macs.clear();
        u.ssids.clear();
        u.vlans.clear();
        assert!(
            on_unit_network(&u, &wired(None)),
            "no list means any network"
        );
    }
}
