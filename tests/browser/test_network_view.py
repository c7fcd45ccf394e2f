"""The Networks view in a real browser against the real daemon: networks with their
bridge, NIC, VLAN, host interface and MTU, the VIFs on each, and root making and
destroying a network (docs/ui.md, "Networks")."""

import harness
from browsertools import by_test, log_in, screenshot
from playwright.sync_api import expect


def network_section(page, network):
    return page.locator('[data-test="network"][data-ref="%s"]' % network)


def test_a_network_shows_its_bridge_and_the_vifs_on_it(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    network = harness.new_network(api)
    vm = harness.new_vm(api, name_label=harness.unique("wired"))
    vif = harness.new_vif(api, vm, network)
    log_in(page)
    page.click(by_test("nav-networks"))
    section = network_section(page, network)
    expect(section.locator(by_test("network-name"))).to_have_text(
        api.network.get_name_label(network))
    expect(section.locator(by_test("network-bridge"))).to_have_text(
        api.network.get_bridge(network))
    row = section.locator('[data-test="vif-row"][data-ref="%s"]' % vif)
    expect(row.locator(by_test("vif-vm"))).to_have_text(api.VM.get_name_label(vm))
    expect(row.locator(by_test("vif-mac"))).to_have_text(api.VIF.get_MAC(vif))
    # A VIF another client removes leaves the list without a reload.
    api.VIF.destroy(vif)
    expect(row).to_have_count(0)
    api.VM.destroy(vm)
    api.network.destroy(network)
    expect(section).to_have_count(0)


def test_root_makes_a_network_on_a_host_interface_and_destroys_it(tab, ui_daemon):
    page, api = tab.page, ui_daemon.api
    log_in(page)
    page.click(by_test("nav-networks"))
    name = harness.unique("net")
    form = page.locator(by_test("network-create"))
    form.locator(by_test("network-name-input")).fill(name)
    form.locator(by_test("network-nic-input")).fill("lo")
    form.locator(by_test("network-create-submit")).click()
    [network] = harness.wait_until(lambda: api.network.get_by_name_label(name),
                                   harness.STATE_WAIT, "the network the page makes")
    section = network_section(page, network)
    expect(section.locator(by_test("network-nic"))).to_have_text("lo")
    # The host interface (1.0's PIF) and the MTU the host's kernel reports for it.
    later = ui_daemon.sdk_unix(version="1.0").xenapi
    [pif] = later.network.get_PIFs(network)
    mtu = str(later.PIF.get_MTU(pif))
    expect(section.locator(by_test("pif-mtu"))).to_have_text(mtu)
    expect(section.locator(by_test("network-mtu"))).to_have_text(mtu)
    screenshot(page, "networks")
    section.locator(by_test("network-destroy")).click()
    section.locator(by_test("network-destroy-confirm")).click()
    expect(section).to_have_count(0)
    assert network not in api.network.get_all()
