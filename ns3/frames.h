// Shared by impera's ns-3 scenario programs: applications that send frames (fixed-size tensors) over UDP or
// TCP at given times and record when each frame has fully arrived, TCP configuration from the command line,
// and JSON output. Compiled by impera (src/net/ns3/toolchain.ts); results are read back as one JSON object.
#pragma once

#include "ns3/applications-module.h"
#include "ns3/core-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace impera
{
using namespace ns3;

// TCP as the analytic model assumes it (src/net/tcp.ts): NewReno, SACK, timestamps, no Nagle.
struct TcpParams
{
    uint32_t segmentBytes = 0; // 0: the MSS of the MTU
    uint32_t initialWindow = 10;
    uint32_t ackEvery = 2;
    double delayedAckMs = 40;
    double minRtoMs = 200;
    double initialRtoMs = 1000;
    uint32_t maxWindowBytes = 4 * 1024 * 1024;
    bool timestamps = true;

    void AddTo(CommandLine& cmd)
    {
        cmd.AddValue("segmentBytes", "TCP payload per segment (0: MTU - 52)", segmentBytes);
        cmd.AddValue("initialWindow", "initial congestion window (segments)", initialWindow);
        cmd.AddValue("ackEvery", "delayed ACK count", ackEvery);
        cmd.AddValue("delayedAckMs", "delayed ACK timeout", delayedAckMs);
        cmd.AddValue("minRtoMs", "minimum RTO", minRtoMs);
        cmd.AddValue("initialRtoMs", "initial RTO and SYN timeout", initialRtoMs);
        cmd.AddValue("maxWindowBytes", "send and receive buffer", maxWindowBytes);
        cmd.AddValue("timestamps", "TCP timestamps", timestamps);
    }

    void Apply(uint32_t mtu) const
    {
        uint32_t mss = segmentBytes ? segmentBytes : mtu - 40 - (timestamps ? 12 : 0);
        Config::SetDefault("ns3::TcpL4Protocol::SocketType", TypeIdValue(TcpNewReno::GetTypeId()));
        Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(mss));
        Config::SetDefault("ns3::TcpSocket::InitialCwnd", UintegerValue(initialWindow));
        Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(ackEvery));
        Config::SetDefault("ns3::TcpSocket::DelAckTimeout", TimeValue(MilliSeconds(delayedAckMs)));
        Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(maxWindowBytes));
        Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(maxWindowBytes));
        Config::SetDefault("ns3::TcpSocket::ConnTimeout", TimeValue(MilliSeconds(initialRtoMs)));
        Config::SetDefault("ns3::TcpSocket::DataRetries", UintegerValue(100));
        Config::SetDefault("ns3::TcpSocket::TcpNoDelay", BooleanValue(true));
        Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(MilliSeconds(minRtoMs)));
        Config::SetDefault("ns3::TcpSocketBase::Timestamp", BooleanValue(timestamps));
        Config::SetDefault("ns3::RttEstimator::InitialEstimation", TimeValue(MilliSeconds(initialRtoMs)));
    }
};

// Per flow: when each frame was handed to the socket and when its last byte arrived (-1: never; -2: not sent,
// it left at the device's early exit).
struct FrameLog
{
    std::vector<double> sentS;
    std::vector<double> recvS;

    // A frame handed to a sender (not arrived yet); returns its index.
    uint32_t Scheduled(double atS)
    {
        sentS.push_back(atS);
        recvS.push_back(-1);
        return sentS.size() - 1;
    }

    void Exited(double atS)
    {
        sentS.push_back(atS);
        recvS.push_back(-2);
    }
};

// Packets lost independently with probability `loss` on receipt, as the analytic models assume; on Wi-Fi the
// MAC then retries the MPDU.
inline Ptr<RateErrorModel>
PacketLoss(double loss)
{
    Ptr<RateErrorModel> errors = CreateObject<RateErrorModel>();
    errors->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
    errors->SetAttribute("ErrorRate", DoubleValue(loss));
    return errors;
}

// A trace sink for packet drops: counts them into *n.
inline Callback<void, Ptr<const Packet>>
CountInto(uint64_t* n)
{
    return MakeBoundCallback(+[](uint64_t* count, Ptr<const Packet>) { ++*count; }, n);
}

// Frames a device keeps sending (the rest exit early), drawn from ns-3's seeded streams.
class ExitDraw
{
  public:
    explicit ExitDraw(double keepProbability)
        : m_keep(keepProbability),
          m_uniform(CreateObject<UniformRandomVariable>())
    {
    }

    bool Send()
    {
        return m_keep >= 1 || m_uniform->GetValue() < m_keep;
    }

  private:
    double m_keep;
    Ptr<UniformRandomVariable> m_uniform;
};

// UDP: every datagram carries (flow, frame, index, count) so the receiver knows when a frame is whole.
struct UdpHeaderWords
{
    uint32_t flow, frame, index, count;
};

// A datagram sent before the frames so ARP and (Wi-Fi) the Block Ack agreement are set up in advance.
constexpr uint32_t WARMUP_FLOW = 0xffffffff;

class UdpFrameReceiver
{
  public:
    UdpFrameReceiver(Ptr<Node> node, uint16_t port, std::vector<FrameLog>* logs)
        : m_logs(logs)
    {
        m_socket = Socket::CreateSocket(node, UdpSocketFactory::GetTypeId());
        m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), port));
        m_socket->SetRecvCallback(MakeCallback(&UdpFrameReceiver::Receive, this));
    }

  private:
    void Receive(Ptr<Socket> socket)
    {
        Ptr<Packet> p;
        while ((p = socket->Recv()))
        {
            UdpHeaderWords h;
            p->CopyData(reinterpret_cast<uint8_t*>(&h), sizeof h);
            if (h.flow == WARMUP_FLOW)
            {
                continue;
            }
            uint64_t key = (uint64_t(h.flow) << 32) | h.frame;
            if (++m_got[key] == h.count)
            {
                (*m_logs)[h.flow].recvS[h.frame] = Simulator::Now().GetSeconds();
            }
        }
    }

    Ptr<Socket> m_socket;
    std::vector<FrameLog>* m_logs;
    std::map<uint64_t, uint32_t> m_got;
};

class UdpFrameSender
{
  public:
    UdpFrameSender(Ptr<Node> node, Address to, uint32_t flow, uint32_t bytes, uint32_t payload, FrameLog* log)
        : m_flow(flow),
          m_bytes(bytes),
          m_payload(payload),
          m_log(log)
    {
        m_socket = Socket::CreateSocket(node, UdpSocketFactory::GetTypeId());
        m_socket->Bind();
        m_socket->Connect(to);
    }

    void Schedule(double atS)
    {
        Simulator::Schedule(Seconds(atS) - Simulator::Now(), &UdpFrameSender::Send, this, m_log->Scheduled(atS));
    }

    void Warmup(double atS)
    {
        Simulator::Schedule(Seconds(atS) - Simulator::Now(), &UdpFrameSender::SendWarmup, this);
    }

    uint64_t packets = 0;

  private:
    void SendWarmup()
    {
        UdpHeaderWords h{WARMUP_FLOW, 0, 0, 1};
        m_socket->Send(Create<Packet>(reinterpret_cast<uint8_t*>(&h), sizeof h));
    }

    void Send(uint32_t frame)
    {
        uint32_t count = (m_bytes + m_payload - 1) / m_payload;
        std::vector<uint8_t> buf(m_payload, 0);
        for (uint32_t i = 0; i < count; i++)
        {
            uint32_t size = i + 1 < count ? m_payload : m_bytes - i * m_payload;
            if (size < sizeof(UdpHeaderWords))
            {
                size = sizeof(UdpHeaderWords);
            }
            UdpHeaderWords h{m_flow, frame, i, count};
            std::memcpy(buf.data(), &h, sizeof h);
            m_socket->Send(Create<Packet>(buf.data(), size));
            packets++;
        }
    }

    Ptr<Socket> m_socket;
    uint32_t m_flow, m_bytes, m_payload;
    FrameLog* m_log;
};

// TCP: frames written back to back into one connection; frame k has arrived when (k + 1) * bytes have.
class TcpFrameSender
{
  public:
    TcpFrameSender(Ptr<Node> node, Address to, uint32_t bytes, FrameLog* log)
        : m_bytes(bytes),
          m_log(log)
    {
        m_socket = Socket::CreateSocket(node, TcpSocketFactory::GetTypeId());
        m_socket->Bind();
        m_socket->SetConnectCallback(MakeCallback(&TcpFrameSender::Connected, this),
                                     MakeNullCallback<void, Ptr<Socket>>());
        m_socket->SetSendCallback(MakeCallback(&TcpFrameSender::Pump, this));
        m_socket->TraceConnectWithoutContext("Tx", MakeCallback(&TcpFrameSender::CountTx, this));
        m_socket->Connect(to);
    }

    // A frame written at an absolute time.
    void Schedule(double atS)
    {
        Simulator::Schedule(Seconds(atS) - Simulator::Now(), &TcpFrameSender::Write, this, m_log->Scheduled(atS));
    }

    // The first frame, written when the connection is up (its send time is logged then).
    void SendOnConnect()
    {
        m_onConnect = true;
        m_log->Scheduled(-1);
    }

    uint64_t packets = 0;

  private:
    void Connected(Ptr<Socket>)
    {
        if (m_onConnect)
        {
            Write(0);
        }
    }

    void Write(uint32_t frame)
    {
        m_log->sentS[frame] = Simulator::Now().GetSeconds();
        m_pending += m_bytes;
        Pump(m_socket, 0);
    }

    void Pump(Ptr<Socket> s, uint32_t)
    {
        while (m_pending > 0 && s->GetTxAvailable() > 0)
        {
            uint32_t n = std::min<uint64_t>(m_pending, s->GetTxAvailable());
            int sent = s->Send(Create<Packet>(n));
            if (sent <= 0)
            {
                break;
            }
            m_pending -= sent;
        }
    }

    void CountTx(Ptr<const Packet> p, const TcpHeader&, Ptr<const TcpSocketBase>)
    {
        if (p->GetSize() > 0)
        {
            packets++;
        }
    }

    Ptr<Socket> m_socket;
    uint32_t m_bytes;
    FrameLog* m_log;
    uint64_t m_pending = 0;
    bool m_onConnect = false;
};

class TcpFrameReceiver
{
  public:
    TcpFrameReceiver(Ptr<Node> node, uint16_t port, uint32_t bytes, FrameLog* log)
        : m_bytes(bytes),
          m_log(log)
    {
        m_socket = Socket::CreateSocket(node, TcpSocketFactory::GetTypeId());
        m_socket->Bind(InetSocketAddress(Ipv4Address::GetAny(), port));
        m_socket->Listen();
        m_socket->SetAcceptCallback(MakeNullCallback<bool, Ptr<Socket>, const Address&>(),
                                    MakeCallback(&TcpFrameReceiver::Accept, this));
    }

  private:
    void Accept(Ptr<Socket> s, const Address&)
    {
        s->SetRecvCallback(MakeCallback(&TcpFrameReceiver::Receive, this));
    }

    void Receive(Ptr<Socket> s)
    {
        Ptr<Packet> p;
        while ((p = s->Recv()))
        {
            m_received += p->GetSize();
            // the k-th whole frame received is the k-th frame sent (frames that exited early were not)
            while (m_received >= uint64_t(m_done + 1) * m_bytes)
            {
                while (m_next < m_log->recvS.size() && m_log->recvS[m_next] == -2)
                {
                    m_next++;
                }
                if (m_next == m_log->recvS.size())
                {
                    break;
                }
                m_log->recvS[m_next++] = Simulator::Now().GetSeconds();
                m_done++;
            }
        }
    }

    Ptr<Socket> m_socket;
    uint32_t m_bytes;
    FrameLog* m_log;
    uint64_t m_received = 0;
    uint32_t m_done = 0;
    uint32_t m_next = 0;
};

// Frame k at startS + k / fps while before untilS.
inline std::vector<double>
PeriodicTimes(double startS, double fps, double untilS)
{
    std::vector<double> times;
    for (uint32_t k = 0; startS + k / fps < untilS; k++)
    {
        times.push_back(startS + k / fps);
    }
    return times;
}

// Hand each frame to `sender` at its time, unless it exits early (then it is only logged).
template <typename Sender>
void
SendFrames(Sender& sender, FrameLog& log, ExitDraw& exits, const std::vector<double>& timesS)
{
    for (double t : timesS)
    {
        if (exits.Send())
        {
            sender.Schedule(t);
        }
        else
        {
            log.Exited(t);
        }
    }
}

inline void
PrintArray(const char* name, const std::vector<double>& xs, bool last = false)
{
    std::printf("\"%s\":[", name);
    for (size_t i = 0; i < xs.size(); i++)
    {
        std::printf(i ? ",%.9g" : "%.9g", xs[i]);
    }
    std::printf("]%s", last ? "" : ",");
}

} // namespace impera
