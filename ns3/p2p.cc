// impera ns-3 scenario: a device and a server on one full-duplex point-to-point link. The device sends frames
// of `bytes` over TCP or UDP; packets device -> server are lost with probability `loss` (a RateErrorModel on
// the server's receiver, as the analytic model assumes: ACKs are not lost). Queues hold every packet (a
// dedicated link loses nothing to congestion) and no queue disc runs. Modes:
//   bulk:   one transfer per run, over `runs` seeds; with --handshake the clock starts at connect(),
//           without it when the connection is up.
//   frames: `frames` frames at `fps` on one connection (TCP) or socket (UDP), from t = 0.1 s.
// Prints {"runs": [{"seed", "packets", "lost", "sent": [s], "recv": [s, -1 = never]}]}.
#include "frames.h"

#include "ns3/point-to-point-module.h"
#include "ns3/traffic-control-module.h"

using namespace ns3;
using namespace impera;

int
main(int argc, char* argv[])
{
    std::string mode = "bulk";
    std::string transport = "tcp";
    double rateMbps = 10;
    double downMbps = 0;
    double delayMs = 1;
    double loss = 0;
    uint32_t mtu = 1500;
    uint32_t bytes = 100000;
    uint32_t payloadBytes = 0;
    bool handshake = true;
    double fps = 30;
    uint32_t frames = 10;
    uint32_t runs = 1;
    uint32_t seed = 1;
    double keepProbability = 1;
    TcpParams tcp;

    CommandLine cmd(__FILE__);
    cmd.AddValue("mode", "bulk or frames", mode);
    cmd.AddValue("transport", "tcp or udp", transport);
    cmd.AddValue("rateMbps", "device -> server rate", rateMbps);
    cmd.AddValue("downMbps", "server -> device rate (0: same)", downMbps);
    cmd.AddValue("delayMs", "one-way propagation delay", delayMs);
    cmd.AddValue("loss", "packet loss device -> server", loss);
    cmd.AddValue("mtu", "IP MTU", mtu);
    cmd.AddValue("bytes", "bytes per frame (bulk: the transfer)", bytes);
    cmd.AddValue("payloadBytes", "UDP payload per datagram (0: MTU - 28)", payloadBytes);
    cmd.AddValue("handshake", "bulk: count the TCP handshake", handshake);
    cmd.AddValue("fps", "frames: frames per second", fps);
    cmd.AddValue("frames", "frames: how many", frames);
    cmd.AddValue("runs", "independent runs (seeds seed .. seed + runs - 1)", runs);
    cmd.AddValue("seed", "first run number", seed);
    cmd.AddValue("keepProbability", "frames: probability a frame is sent (the rest exit early)", keepProbability);
    tcp.AddTo(cmd);
    cmd.Parse(argc, argv);
    tcp.Apply(mtu);
    const uint32_t payload = payloadBytes ? payloadBytes : mtu - 28;

    std::printf("{\"runs\":[");
    for (uint32_t r = 0; r < runs; r++)
    {
        RngSeedManager::SetSeed(1);
        RngSeedManager::SetRun(seed + r);

        NodeContainer nodes(2);
        PointToPointHelper p2p;
        p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate(uint64_t(rateMbps * 1e6))));
        p2p.SetDeviceAttribute("Mtu", UintegerValue(mtu));
        p2p.SetChannelAttribute("Delay", TimeValue(NanoSeconds(int64_t(delayMs * 1e6))));
        p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", QueueSizeValue(QueueSize("10000000p")));
        NetDeviceContainer devices = p2p.Install(nodes);
        if (downMbps > 0)
        {
            devices.Get(1)->SetAttribute("DataRate", DataRateValue(DataRate(uint64_t(downMbps * 1e6))));
        }
        InternetStackHelper().Install(nodes);
        Ipv4AddressHelper addresses("10.1.1.0", "255.255.255.0");
        Ipv4InterfaceContainer ifaces = addresses.Assign(devices);
        TrafficControlHelper().Uninstall(devices);

        devices.Get(1)->SetAttribute("ReceiveErrorModel", PointerValue(PacketLoss(loss)));
        uint64_t lost = 0;
        devices.Get(1)->TraceConnectWithoutContext("PhyRxDrop", CountInto(&lost));

        std::vector<FrameLog> logs(1);
        ExitDraw exits(keepProbability);
        Address to = InetSocketAddress(ifaces.GetAddress(1), 9000);
        uint64_t packets = 0;
        if (transport == "udp")
        {
            UdpFrameReceiver rx(nodes.Get(1), 9000, &logs);
            UdpFrameSender tx(nodes.Get(0), to, 0, bytes, payload, &logs[0]);
            tx.Warmup(0.05);
            uint32_t n = mode == "bulk" ? 1 : frames;
            SendFrames(tx, logs[0], exits, PeriodicTimes(0.1, fps, 0.1 + (n - 0.5) / fps));
            Simulator::Stop(Seconds(0.1 + n / fps + 60));
            Simulator::Run();
            packets = tx.packets;
        }
        else
        {
            TcpFrameReceiver rx(nodes.Get(1), 9000, bytes, &logs[0]);
            TcpFrameSender tx(nodes.Get(0), to, bytes, &logs[0]);
            if (mode == "bulk" && !handshake)
            {
                tx.SendOnConnect();
            }
            else if (mode == "bulk")
            {
                tx.Schedule(0);
            }
            else
            {
                SendFrames(tx, logs[0], exits, PeriodicTimes(0.1, fps, 0.1 + (frames - 0.5) / fps));
            }
            Simulator::Stop(Seconds((mode == "bulk" ? 0 : 0.1 + frames / fps) + 3600));
            Simulator::Run();
            packets = tx.packets;
        }
        std::printf("%s{\"seed\":%u,\"packets\":%llu,\"lost\":%llu,", r ? "," : "", seed + r,
                    (unsigned long long)packets, (unsigned long long)lost);
        PrintArray("sent", logs[0].sentS);
        PrintArray("recv", logs[0].recvS, true);
        std::printf("}");
        Simulator::Destroy();
    }
    std::printf("]}\n");
    return 0;
}
