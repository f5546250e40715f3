// impera ns-3 scenario: one 802.11n/ac access point (5 GHz) and N stations (cameras) on a circle of radius
// `distance` m around it, at a fixed MCS (ConstantRateWifiManager, so rate adaptation does not blur the
// comparison); with `loss`, MPDUs received by the access point are corrupted at that rate. Station i sends a frame of `bytes` to the access point every 1/fps s from startS + phase_i, over
// UDP datagrams (or one TCP connection per station), for durationS. The receiver runs on the access point.
// Prints {"runs": [{"seed", "packets", "lost", "stations": [{"sent": [s], "recv": [s, -1 = never]}]}]}.
#include "frames.h"

#include "ns3/mobility-module.h"
#include "ns3/wifi-module.h"

#include <sstream>

using namespace ns3;
using namespace impera;

static std::vector<double>
ParseList(const std::string& s)
{
    std::vector<double> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
    {
        if (!item.empty())
        {
            out.push_back(std::stod(item));
        }
    }
    return out;
}

int
main(int argc, char* argv[])
{
    uint32_t stations = 1;
    std::string standard = "802.11ac";
    uint32_t mcs = 7;
    uint32_t widthMHz = 80;
    bool shortGuard = false;
    uint32_t maxAmpduBytes = 65535;
    double distance = 5;
    double loss = 0;
    uint32_t bytes = 25088;
    uint32_t payloadBytes = 1472;
    std::string transport = "udp";
    double fps = 30;
    double durationS = 5;
    double startS = 1;
    std::string phasesMs;
    uint32_t seed = 1;
    double keepProbability = 1;
    TcpParams tcp;

    CommandLine cmd(__FILE__);
    cmd.AddValue("stations", "number of stations", stations);
    cmd.AddValue("standard", "802.11n or 802.11ac", standard);
    cmd.AddValue("mcs", "MCS index", mcs);
    cmd.AddValue("widthMHz", "channel width", widthMHz);
    cmd.AddValue("shortGuard", "400 ns guard interval", shortGuard);
    cmd.AddValue("maxAmpduBytes", "largest A-MPDU (best effort)", maxAmpduBytes);
    cmd.AddValue("distance", "station - access point distance (m)", distance);
    cmd.AddValue("loss", "probability that an MPDU to the access point is corrupted (the MAC retries it)", loss);
    cmd.AddValue("bytes", "bytes per frame", bytes);
    cmd.AddValue("payloadBytes", "UDP payload per datagram", payloadBytes);
    cmd.AddValue("transport", "udp or tcp", transport);
    cmd.AddValue("fps", "frames per second per station", fps);
    cmd.AddValue("durationS", "how long stations send", durationS);
    cmd.AddValue("startS", "when sending starts (after association)", startS);
    cmd.AddValue("phasesMs", "first frame offset of each station, comma separated", phasesMs);
    cmd.AddValue("seed", "run number", seed);
    cmd.AddValue("keepProbability", "probability a frame is sent (the rest exit early)", keepProbability);
    tcp.AddTo(cmd);
    cmd.Parse(argc, argv);
    tcp.Apply(1500);
    RngSeedManager::SetSeed(1);
    RngSeedManager::SetRun(seed);
    std::vector<double> phases = ParseList(phasesMs);
    phases.resize(stations, 0);

    NodeContainer ap(1);
    NodeContainer stas(stations);
    bool ac = standard == "802.11ac";
    WifiHelper wifi;
    wifi.SetStandard(ac ? WIFI_STANDARD_80211ac : WIFI_STANDARD_80211n);
    std::string mode = (ac ? "VhtMcs" : "HtMcs") + std::to_string(mcs);
    wifi.SetRemoteStationManager("ns3::ConstantRateWifiManager", "DataMode", StringValue(mode),
                                 "ControlMode", StringValue(ac ? "VhtMcs0" : "HtMcs0"));
    YansWifiChannelHelper channel = YansWifiChannelHelper::Default();
    YansWifiPhyHelper phy;
    phy.SetChannel(channel.Create());
    phy.Set("ChannelSettings", StringValue("{0, " + std::to_string(widthMHz) + ", BAND_5GHZ, 0}"));
    WifiMacHelper mac;
    Ssid ssid("impera");
    mac.SetType("ns3::StaWifiMac", "Ssid", SsidValue(ssid), "BE_MaxAmpduSize", UintegerValue(maxAmpduBytes));
    NetDeviceContainer staDevices = wifi.Install(phy, mac, stas);
    mac.SetType("ns3::ApWifiMac", "Ssid", SsidValue(ssid), "BE_MaxAmpduSize", UintegerValue(maxAmpduBytes));
    if (loss > 0)
    {
        phy.Set("PostReceptionErrorModel", PointerValue(PacketLoss(loss)));
    }
    NetDeviceContainer apDevice = wifi.Install(phy, mac, ap);
    Config::Set("/NodeList/*/DeviceList/*/$ns3::WifiNetDevice/HtConfiguration/ShortGuardIntervalSupported",
                BooleanValue(shortGuard));

    MobilityHelper mobility;
    Ptr<ListPositionAllocator> positions = CreateObject<ListPositionAllocator>();
    positions->Add(Vector(0, 0, 0));
    for (uint32_t i = 0; i < stations; i++)
    {
        double a = 2 * M_PI * i / stations;
        positions->Add(Vector(distance * std::cos(a), distance * std::sin(a), 0));
    }
    mobility.SetPositionAllocator(positions);
    mobility.SetMobilityModel("ns3::ConstantPositionMobilityModel");
    mobility.Install(ap);
    mobility.Install(stas);

    InternetStackHelper().Install(NodeContainer(ap, stas));
    Ipv4AddressHelper addresses("10.1.0.0", "255.255.0.0");
    Ipv4InterfaceContainer apIface = addresses.Assign(apDevice);
    addresses.Assign(staDevices);

    uint64_t lost = 0;
    Config::ConnectWithoutContext("/NodeList/*/DeviceList/*/$ns3::WifiNetDevice/Mac/MacTxDrop", CountInto(&lost));

    std::vector<FrameLog> logs(stations);
    std::vector<std::unique_ptr<UdpFrameSender>> udpTx;
    std::vector<std::unique_ptr<TcpFrameSender>> tcpTx;
    std::vector<std::unique_ptr<TcpFrameReceiver>> tcpRx;
    std::unique_ptr<UdpFrameReceiver> udpRx;
    ExitDraw exits(keepProbability);
    if (transport == "udp")
    {
        udpRx = std::make_unique<UdpFrameReceiver>(ap.Get(0), 9000, &logs);
    }
    for (uint32_t i = 0; i < stations; i++)
    {
        if (transport == "udp")
        {
            udpTx.push_back(std::make_unique<UdpFrameSender>(
                stas.Get(i), InetSocketAddress(apIface.GetAddress(0), 9000), i, bytes, payloadBytes, &logs[i]));
            udpTx.back()->Warmup(startS / 2 + startS / 2 * i / stations);
        }
        else
        {
            tcpRx.push_back(std::make_unique<TcpFrameReceiver>(ap.Get(0), 9000 + i, bytes, &logs[i]));
            tcpTx.push_back(std::make_unique<TcpFrameSender>(
                stas.Get(i), InetSocketAddress(apIface.GetAddress(0), 9000 + i), bytes, &logs[i]));
        }
        std::vector<double> times = PeriodicTimes(startS + phases[i] / 1000, fps, startS + durationS);
        if (transport == "udp")
        {
            SendFrames(*udpTx.back(), logs[i], exits, times);
        }
        else
        {
            SendFrames(*tcpTx.back(), logs[i], exits, times);
        }
    }
    Simulator::Stop(Seconds(startS + durationS + 2));
    Simulator::Run();

    uint64_t packets = 0;
    for (auto& s : udpTx)
    {
        packets += s->packets;
    }
    for (auto& s : tcpTx)
    {
        packets += s->packets;
    }
    std::printf("{\"runs\":[{\"seed\":%u,\"packets\":%llu,\"lost\":%llu,\"stations\":[", seed,
                (unsigned long long)packets, (unsigned long long)lost);
    for (uint32_t i = 0; i < stations; i++)
    {
        std::printf(i ? ",{" : "{");
        PrintArray("sent", logs[i].sentS);
        PrintArray("recv", logs[i].recvS, true);
        std::printf("}");
    }
    std::printf("]}]}\n");
    Simulator::Destroy();
    return 0;
}
