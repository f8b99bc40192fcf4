"""docker-py's network API against berthd, exercised with the calls and assertions of
docker-py's own network tests (tests/integration/api_network_test.py and
models_networks_test.py of docker/docker-py): create (IPAM pools, labels, internal, IPv6,
duplicates), list by name and id, inspect (scope), remove, prune, connect and disconnect
(aliases, links, fixed addresses, force), endpoint settings at create (aliases, addresses,
link-local addresses, driver options, links resolved through the embedded DNS), and the
models' Network collection.

The subnets are not docker-py's fixed ones but come from the test daemon's own pool (POOL,
"10.x.y.0/20"), so that no two test daemons and no host route ever meet; the swarm-only cases
(overlay, ingress, swarm scope) are run in their bridge form or skipped, as berth has no swarm.

Run with DOCKER_HOST=unix://... (the test daemon), BUSYBOX naming an image with busybox and
POOL; arguments: --list, or the names of the cases to run (default: all). Prints unittest's
verbose output on stderr and "RESULT <case> <ok|FAIL|ERROR|skip>" lines on stdout.
"""
import ipaddress
import os
import sys
import unittest
import uuid

import docker
from docker.types import IPAMConfig, IPAMPool
from cases import main

BUSYBOX = os.environ.get('BUSYBOX', 'busybox:latest')
POOL = ipaddress.ip_network(os.environ.get('POOL', '10.200.0.0/20'))


def pool_address(offset):
    """The address `offset` addresses into the daemon's pool."""
    return str(POOL.network_address + offset)


# The upper half of the pool (user networks are handed out from its start): two subnets, a
# range inside the first, and an IPv6 ULA prefix derived from the pool.
SUBNET_A = f'{pool_address(12 * 256)}/23'
RANGE_A = f'{pool_address(13 * 256)}/24'
GATEWAY_A = pool_address(13 * 256 + 254)
ADDRESS_A = pool_address(13 * 256 + 24)
AUX_A = {'a': pool_address(12 * 256 + 5), 'b': pool_address(12 * 256 + 6), 'c': pool_address(12 * 256 + 7)}
SUBNET_B = f'{pool_address(14 * 256)}/24'
ADDRESS_B = pool_address(14 * 256 + 23)
_octets = POOL.network_address.packed
IPV6_PREFIX = f'fd42:{_octets[1]:02x}{_octets[2]:02x}::'
SUBNET_6 = f'{IPV6_PREFIX}1/64'
RANGE_6 = f'{IPV6_PREFIX}0/96'
GATEWAY_6 = f'{IPV6_PREFIX}ffff'
ADDRESS_6 = f'{IPV6_PREFIX}f00d'


def random_name():
    return f'dockerpytest_{uuid.uuid4().hex[:12]}'


def api_client():
    return docker.APIClient(base_url=os.environ['DOCKER_HOST'], version='auto', timeout=60)


class NetworkTestBase(unittest.TestCase):
    def setUp(self):
        self.client = api_client()
        self.tmp_containers = []
        self.tmp_networks = []

    def tearDown(self):
        for container in self.tmp_containers:
            try:
                self.client.remove_container(container, force=True, v=True)
            except docker.errors.APIError:
                pass
        for network in self.tmp_networks:
            try:
                self.client.remove_network(network)
            except docker.errors.APIError:
                pass
        self.client.close()

    def create_network(self, *args, **kwargs):
        net_name = random_name()
        net_id = self.client.create_network(net_name, *args, **kwargs)['Id']
        self.tmp_networks.append(net_id)
        return (net_name, net_id)

    def create_and_start(self, image=BUSYBOX, command='top', **kwargs):
        container = self.client.create_container(image=image, command=command, **kwargs)
        self.tmp_containers.append(container)
        self.client.start(container)
        return container

    def execute(self, container, cmd, exit_code=0):
        exc = self.client.exec_create(container, cmd)
        output = self.client.exec_start(exc)
        actual = self.client.exec_inspect(exc)['ExitCode']
        self.assertEqual(actual, exit_code, output)
        return output


class TestNetworks(NetworkTestBase):
    """api_network_test.py"""

    def test_list_networks(self):
        self.client.networks()
        net_name, net_id = self.create_network()
        networks = self.client.networks()
        assert net_id in [n['Id'] for n in networks]
        networks_by_name = self.client.networks(names=[net_name])
        assert [n['Id'] for n in networks_by_name] == [net_id]
        networks_by_partial_id = self.client.networks(ids=[net_id[:8]])
        assert [n['Id'] for n in networks_by_partial_id] == [net_id]

    def test_inspect_network(self):
        net_name, net_id = self.create_network()
        net = self.client.inspect_network(net_id)
        assert net['Id'] == net_id
        assert net['Name'] == net_name
        assert net['Driver'] == 'bridge'
        assert net['Scope'] == 'local'
        assert net['IPAM']['Driver'] == 'default'

    def test_create_network_with_ipam_config(self):
        _, net_id = self.create_network(ipam=IPAMConfig(driver='default', pool_configs=[
            IPAMPool(subnet=SUBNET_A, iprange=RANGE_A, gateway=GATEWAY_A, aux_addresses=AUX_A),
        ]))
        ipam = self.client.inspect_network(net_id)['IPAM']
        assert ipam.pop('Options', None) is None
        assert ipam['Driver'] == 'default'
        assert ipam['Config'] == [{'Subnet': SUBNET_A, 'IPRange': RANGE_A, 'Gateway': GATEWAY_A, 'AuxiliaryAddresses': AUX_A}]

    def test_create_network_with_host_driver_fails(self):
        with self.assertRaises(docker.errors.APIError):
            self.client.create_network(random_name(), driver='host')

    def test_remove_network(self):
        net_name, net_id = self.create_network()
        assert net_name in [n['Name'] for n in self.client.networks()]
        self.client.remove_network(net_id)
        assert net_name not in [n['Name'] for n in self.client.networks()]

    def test_connect_and_disconnect_container(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start()
        assert not self.client.inspect_network(net_id).get('Containers')
        self.client.connect_container_to_network(container, net_id)
        assert list(self.client.inspect_network(net_id)['Containers'].keys()) == [container['Id']]
        with self.assertRaises(docker.errors.APIError):
            self.client.connect_container_to_network(container, net_id)
        self.client.disconnect_container_from_network(container, net_id)
        assert not self.client.inspect_network(net_id).get('Containers')
        with self.assertRaises(docker.errors.APIError):
            self.client.disconnect_container_from_network(container, net_id)

    def test_connect_and_force_disconnect_container(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start()
        assert not self.client.inspect_network(net_id).get('Containers')
        self.client.connect_container_to_network(container, net_id)
        assert list(self.client.inspect_network(net_id)['Containers'].keys()) == [container['Id']]
        self.client.disconnect_container_from_network(container, net_id, True)
        assert not self.client.inspect_network(net_id).get('Containers')
        with self.assertRaises(docker.errors.APIError):
            self.client.disconnect_container_from_network(container, net_id, force=True)

    def test_connect_with_aliases(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start()
        self.client.connect_container_to_network(container, net_id, aliases=['foo', 'bar'])
        aliases = self.client.inspect_container(container)['NetworkSettings']['Networks'][net_name]['Aliases']
        assert 'foo' in aliases
        assert 'bar' in aliases

    def test_connect_on_container_create(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start(host_config=self.client.create_host_config(network_mode=net_name))
        assert list(self.client.inspect_network(net_id)['Containers'].keys()) == [container['Id']]
        self.client.disconnect_container_from_network(container, net_id)
        assert not self.client.inspect_network(net_id).get('Containers')

    def test_create_with_aliases(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start(
            host_config=self.client.create_host_config(network_mode=net_name),
            networking_config=self.client.create_networking_config({
                net_name: self.client.create_endpoint_config(aliases=['foo', 'bar']),
            }),
        )
        aliases = self.client.inspect_container(container)['NetworkSettings']['Networks'][net_name]['Aliases']
        assert 'foo' in aliases
        assert 'bar' in aliases

    def test_create_with_ipv4_address(self):
        net_name, net_id = self.create_network(ipam=IPAMConfig(driver='default', pool_configs=[IPAMPool(subnet=SUBNET_B)]))
        container = self.create_and_start(
            host_config=self.client.create_host_config(network_mode=net_name),
            networking_config=self.client.create_networking_config({
                net_name: self.client.create_endpoint_config(ipv4_address=ADDRESS_B),
            }),
        )
        settings = self.client.inspect_container(container)['NetworkSettings']
        assert settings['Networks'][net_name]['IPAMConfig']['IPv4Address'] == ADDRESS_B

    def test_create_with_ipv6_address(self):
        net_name, net_id = self.create_network(ipam=IPAMConfig(driver='default', pool_configs=[IPAMPool(subnet=SUBNET_6)]))
        container = self.create_and_start(
            host_config=self.client.create_host_config(network_mode=net_name),
            networking_config=self.client.create_networking_config({
                net_name: self.client.create_endpoint_config(ipv6_address=ADDRESS_6),
            }),
        )
        settings = self.client.inspect_container(container)['NetworkSettings']
        assert settings['Networks'][net_name]['IPAMConfig']['IPv6Address'] == ADDRESS_6

    def test_create_with_linklocal_ips(self):
        container = self.create_and_start(
            networking_config=self.client.create_networking_config({
                'bridge': self.client.create_endpoint_config(link_local_ips=['169.254.8.8']),
            }),
            host_config=self.client.create_host_config(network_mode='bridge'),
        )
        net_cfg = self.client.inspect_container(container)['NetworkSettings']['Networks']['bridge']
        assert 'IPAMConfig' in net_cfg
        assert 'LinkLocalIPs' in net_cfg['IPAMConfig']
        assert net_cfg['IPAMConfig']['LinkLocalIPs'] == ['169.254.8.8']

    def test_create_with_driveropt(self):
        container = self.create_and_start(
            networking_config=self.client.create_networking_config({
                'bridge': self.client.create_endpoint_config(driver_opt={'com.docker-py.setting': 'on'}),
            }),
            host_config=self.client.create_host_config(network_mode='bridge'),
        )
        net_cfg = self.client.inspect_container(container)['NetworkSettings']['Networks']['bridge']
        assert 'DriverOpts' in net_cfg
        assert net_cfg['DriverOpts']['com.docker-py.setting'] == 'on'

    def test_create_with_links(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start(
            host_config=self.client.create_host_config(network_mode=net_name),
            networking_config=self.client.create_networking_config({
                net_name: self.client.create_endpoint_config(links=[('docker-py-test-upstream', 'bar')]),
            }),
        )
        settings = self.client.inspect_container(container)['NetworkSettings']
        assert settings['Networks'][net_name]['Links'] == ['docker-py-test-upstream:bar']
        self.create_and_start(name='docker-py-test-upstream', host_config=self.client.create_host_config(network_mode=net_name))
        self.execute(container, ['nslookup', 'bar'])

    def test_create_check_duplicate(self):
        net_name, net_id = self.create_network()
        with self.assertRaises(docker.errors.APIError):
            self.client.create_network(net_name, check_duplicate=True)
        net_id = self.client.create_network(net_name, check_duplicate=False)
        self.tmp_networks.append(net_id['Id'])

    def test_connect_with_links(self):
        net_name, net_id = self.create_network()
        container = self.create_and_start(host_config=self.client.create_host_config(network_mode=net_name))
        self.client.disconnect_container_from_network(container, net_name)
        self.client.connect_container_to_network(container, net_name, links=[('docker-py-test-upstream', 'bar')])
        settings = self.client.inspect_container(container)['NetworkSettings']
        assert settings['Networks'][net_name]['Links'] == ['docker-py-test-upstream:bar']
        self.create_and_start(name='docker-py-test-upstream', host_config=self.client.create_host_config(network_mode=net_name))
        self.execute(container, ['nslookup', 'bar'])

    def test_connect_with_ipv4_address(self):
        net_name, net_id = self.create_network(ipam=IPAMConfig(driver='default', pool_configs=[
            IPAMPool(subnet=SUBNET_A, iprange=RANGE_A, gateway=GATEWAY_A),
        ]))
        container = self.create_and_start(host_config=self.client.create_host_config(network_mode=net_name))
        self.client.disconnect_container_from_network(container, net_name)
        self.client.connect_container_to_network(container, net_name, ipv4_address=ADDRESS_A)
        net_data = self.client.inspect_container(container)['NetworkSettings']['Networks'][net_name]
        assert net_data['IPAMConfig']['IPv4Address'] == ADDRESS_A

    def test_connect_with_ipv6_address(self):
        net_name, net_id = self.create_network(ipam=IPAMConfig(driver='default', pool_configs=[
            IPAMPool(subnet=SUBNET_6, iprange=RANGE_6, gateway=GATEWAY_6),
        ]))
        container = self.create_and_start(host_config=self.client.create_host_config(network_mode=net_name))
        self.client.disconnect_container_from_network(container, net_name)
        self.client.connect_container_to_network(container, net_name, ipv6_address=ADDRESS_6)
        net_data = self.client.inspect_container(container)['NetworkSettings']['Networks'][net_name]
        assert net_data['IPAMConfig']['IPv6Address'] == ADDRESS_6

    def test_create_internal_networks(self):
        _, net_id = self.create_network(internal=True)
        assert self.client.inspect_network(net_id)['Internal'] is True

    def test_create_network_with_labels(self):
        _, net_id = self.create_network(labels={'com.docker.py.test': 'label'})
        net = self.client.inspect_network(net_id)
        assert 'Labels' in net
        assert len(net['Labels']) == 1
        assert net['Labels'] == {'com.docker.py.test': 'label'}

    def test_create_network_with_labels_wrong_type(self):
        with self.assertRaises(TypeError):
            self.create_network(labels=['com.docker.py.test=label'])

    def test_create_network_ipv6_enabled(self):
        _, net_id = self.create_network(enable_ipv6=True, ipam=IPAMConfig(driver='default', pool_configs=[
            IPAMPool(subnet=SUBNET_6, iprange=RANGE_6, gateway=GATEWAY_6),
        ]))
        assert self.client.inspect_network(net_id)['EnableIPv6'] is True

    def test_create_network_attachable(self):
        # docker-py's case makes an overlay network in a swarm; berth has no swarm: its bridge form.
        _, net_id = self.create_network(driver='bridge', attachable=True)
        assert self.client.inspect_network(net_id)['Attachable'] is True

    def test_create_network_ingress(self):
        self.skipTest('an ingress network is a swarm routing mesh; berth has no swarm')

    def test_prune_networks(self):
        net_name, _ = self.create_network()
        result = self.client.prune_networks()
        assert net_name in result['NetworksDeleted']

    def test_create_inspect_network_with_scope(self):
        # The local half of docker-py's case; its swarm half (overlay, scope=swarm) needs a swarm.
        net_name_loc, _ = self.create_network(scope='local')
        assert self.client.inspect_network(net_name_loc)
        assert self.client.inspect_network(net_name_loc, scope='local')
        with self.assertRaises(docker.errors.NotFound):
            self.client.inspect_network(net_name_loc, scope='global')

    def test_create_remove_network_with_space_in_name(self):
        net_id = self.client.create_network('test 01')
        self.tmp_networks.append(net_id['Id'])
        assert self.client.inspect_network('test 01')
        assert self.client.remove_network('test 01') is None  # does not raise


class TestNetworkModels(NetworkTestBase):
    """models_networks_test.py"""

    def setUp(self):
        super().setUp()
        self.docker = docker.DockerClient(base_url=os.environ['DOCKER_HOST'], version='auto', timeout=60)

    def tearDown(self):
        self.docker.close()
        super().tearDown()

    def test_create(self):
        name = random_name()
        network = self.docker.networks.create(name, labels={'foo': 'bar'})
        self.tmp_networks.append(network.id)
        assert network.name == name
        assert network.attrs['Labels']['foo'] == 'bar'

    def test_get(self):
        name = random_name()
        network_id = self.docker.networks.create(name).id
        self.tmp_networks.append(network_id)
        assert self.docker.networks.get(network_id).name == name

    def test_list_remove(self):
        name = random_name()
        network = self.docker.networks.create(name)
        self.tmp_networks.append(network.id)
        assert network.id in [n.id for n in self.docker.networks.list()]
        assert network.id not in [n.id for n in self.docker.networks.list(ids=['fdhjklfdfdshjkfds'])]
        assert network.id in [n.id for n in self.docker.networks.list(ids=[network.id])]
        assert network.id not in [n.id for n in self.docker.networks.list(names=['fdshjklfdsjhkl'])]
        assert network.id in [n.id for n in self.docker.networks.list(names=[name])]
        network.remove()
        assert network.id not in [n.id for n in self.docker.networks.list()]

    def test_connect_disconnect(self):
        network = self.docker.networks.create(random_name())
        self.tmp_networks.append(network.id)
        container = self.docker.containers.create(BUSYBOX, 'sleep 300')
        self.tmp_containers.append(container.id)
        assert network.containers == []
        network.connect(container)
        container.start()
        assert self.docker.networks.get(network.id).containers == [container]
        network_containers = [c for net in self.docker.networks.list(ids=[network.id], greedy=True) for c in net.containers]
        assert network_containers == [container]
        network.disconnect(container)
        assert network.containers == []
        assert self.docker.networks.get(network.id).containers == []


if __name__ == '__main__':
    main(TestNetworks, TestNetworkModels)
