"""Query expansion with a small bilingual glossary of business and technology terms.

Chinese articles name companies in Chinese (微软, 谷歌, 摩根斯坦利) while people type them in
English, by nickname or by description (Microsoft, Google, 大摩, 做Windows的那家, 搜索巨头),
and English questions share no characters with a Chinese text at all. ``expand`` appends the Chinese (and English) equivalents of the
glossary terms found in a question, so BM25 and the embedding model see the words the corpus
uses. The glossary is general vocabulary of the domain, not tuned to one article; extend it
for other corpora.
"""

from __future__ import annotations

import itertools
import re
from functools import lru_cache

#: groups of interchangeable names (``NAMES``: companies, products, places) and terms; the
#: first entry of a group is the usual Chinese form, and the Chinese entries before its first
#: English one are all formal equivalents (English terms expand to all of them); later Chinese
#: entries are colloquial synonyms.
NAMES: tuple[tuple[str, ...], ...] = (
    # companies, products, people
    ("微软", "microsoft", "msft", "巨硬", "windows", "视窗", "office", "雷德蒙德", "redmond", "软件巨头", "xbox"),
    ("谷歌", "google", "alphabet", "狗家", "搜索巨头", "搜索引擎巨头", "android", "安卓", "youtube", "油管", "山景城", "mountain view"),
    ("必应", "bing", "newbing", "new bing", "新必应", "微软搜索引擎", "微软的搜索引擎", "微软旗下搜索引擎"),
    ("苹果公司", "苹果", "apple", "iphone", "ipad", "macbook", "ios", "库比蒂诺", "cupertino", "水果公司"),
    ("亚马逊", "amazon", "aws", "kindle", "alexa", "prime video", "贝索斯的公司", "贝佐斯的公司"),
    ("英伟达", "nvidia", "显卡巨头", "gpu巨头", "ai芯片巨头", "geforce", "cuda", "n卡", "核弹厂"),
    ("meta", "facebook", "脸书", "facebook母公司", "脸书母公司", "instagram", "whatsapp", "小扎的公司", "门洛帕克", "menlo park", "llama"),
    ("摩根斯坦利", "摩根士丹利", "morgan stanley", "大摩", "摩根史丹利", "摩根斯丹利", "morganstanley"),
    ("摩根大通", "jpmorgan", "小摩", "jp morgan", "j.p. morgan", "jp摩根", "大通银行", "美国最大银行"),
    ("高盛", "goldman sachs", "goldman", "戈德曼萨克斯", "戈德曼·萨克斯"),
    ("deepmind", "深度思维", "深度心智", "alphafold", "哈萨比斯的公司", "alphago开发商", "alphago的开发商"),
    ("alphago", "阿尔法狗", "阿尔法围棋", "围棋ai", "下围棋的ai", "围棋人工智能", "阿法狗", "阿尔法go", "alpha go"),
    ("小冰", "xiaoice", "xiao ice", "微软ai少女", "微软人工智能少女", "xiaobing"),
    ("cortana", "小娜", "微软语音助手", "微软智能助理", "微软虚拟助手", "微软数字助理"),
    ("skype", "斯盖普", "讯佳普", "微软网络电话", "微软视频通话软件"),
    ("tensorflow", "张量流", "tensor flow", "谷歌深度学习框架", "谷歌机器学习框架"),
    ("azure", "微软云", "微软智能云", "微软公有云", "微软的云"),
    ("谷歌云", "google cloud", "gcp", "谷歌的云", "谷歌公有云", "google云", "google的云"),
    ("阿里巴巴", "alibaba", "阿里", "淘宝", "天猫", "taobao", "tmall", "马云的公司", "达摩院", "猫厂"),
    ("腾讯", "tencent", "鹅厂", "微信", "wechat", "weixin", "企鹅帝国", "马化腾的公司", "混元大模型", "hunyuan"),
    ("百度", "baidu", "度娘", "度厂", "李彦宏的公司", "中国搜索巨头", "国内搜索巨头", "中文搜索巨头", "萝卜快跑", "小度"),
    ("字节跳动", "bytedance", "字节系", "抖音", "tiktok", "douyin", "今日头条", "头条系", "张一鸣的公司", "豆包大模型"),
    ("华为", "huawei", "菊厂", "菊花厂", "任正非的公司", "鸿蒙", "harmonyos", "海思", "昇腾", "盘古大模型"),
    ("网易", "netease", "猪厂", "丁磊的公司", "163.com", "梦幻西游"),
    ("京东", "jd.com", "jingdong", "狗东", "刘强东的公司", "东哥的公司", "jd商城"),
    ("拼多多", "pinduoduo", "pdd", "拼夕夕", "temu", "黄峥的公司", "多多买菜", "砍一刀"),
    ("英特尔", "intel", "牙膏厂", "酷睿", "至强", "xeon", "pentium"),
    ("特斯拉", "tesla", "model 3", "model y", "model s", "cybertruck", "fsd", "马斯克的车企"),
    ("马斯克", "埃隆·马斯克", "musk", "elon musk"),
    ("黄仁勋", "jensen huang", "老黄"),
    ("扎克伯格", "zuckerberg", "小扎"),
    ("纳德拉", "萨提亚·纳德拉", "nadella", "satya nadella"),
    ("皮查伊", "桑达尔·皮查伊", "pichai", "sundar pichai", "劈柴"),
    ("阿尔特曼", "奥特曼", "altman", "sam altman"),
    # AI companies and products often in the news
    ("openai", "open ai", "开放人工智能研究中心", "chatgpt开发商", "chatgpt的开发商", "chatgpt母公司", "chatgpt的母公司", "奥特曼的公司"),
    ("chatgpt", "chat gpt", "openai聊天机器人", "openai的聊天机器人"),
    ("anthropic", "claude开发商", "claude的开发商", "claude母公司", "claude的母公司"),
    ("claude", "anthropic聊天机器人", "anthropic的聊天机器人", "anthropic的大模型"),
    ("gemini", "bard", "谷歌聊天机器人", "谷歌的聊天机器人", "谷歌版chatgpt"),
    ("文心一言", "ernie bot", "erniebot", "ernie", "文心大模型", "百度大模型", "百度版chatgpt"),
    ("通义千问", "tongyi qianwen", "qwen", "千问", "通义大模型", "阿里大模型", "阿里版chatgpt"),
    ("科大讯飞", "iflytek", "讯飞", "星火大模型", "星火认知大模型", "刘庆峰的公司"),
    ("深度求索", "deepseek", "deep seek", "梁文锋的公司", "幻方旗下"),
    ("月之暗面", "moonshot ai", "kimi", "杨植麟的公司"),
    ("商汤科技", "sensetime", "商汤", "日日新大模型", "汤晓鸥的公司"),
    ("amd", "advanced micro devices", "超威半导体", "锐龙", "ryzen", "radeon", "苏姿丰的公司"),
    ("台积电", "tsmc", "台湾积体电路制造", "晶圆代工巨头", "晶圆代工龙头", "张忠谋的公司"),
)
TERMS: tuple[tuple[str, ...], ...] = (
    # a place mostly named to describe ("硅谷巨头"), and a kind of product: not names a
    # question is about
    ("硅谷", "silicon valley"),
    ("gpu", "图形处理器", "显卡"),
    # the field
    ("独角兽", "unicorn", "decacorn", "估值超10亿", "估值超过10亿"),
    ("人工智能", "ai", "artificial intelligence"),
    ("通用人工智能", "agi", "强人工智能", "artificial general intelligence"),
    ("生成式ai", "generative ai", "aigc", "生成式人工智能", "genai"),
    ("大模型", "large model", "large language model", "foundation model", "llm", "大语言模型", "基座模型", "基础模型", "大型语言模型"),
    # money and markets
    ("投资", "invest", "invested", "investment", "砸钱", "注资", "入股", "掏钱", "出钱", "投钱"),
    ("追加投资", "additional investment", "invest more", "加码", "追投", "增资"),
    ("市值", "market value", "market cap", "market capitalization", "身价"),
    ("股价", "share price", "stock price", "stock", "shares", "股票价格"),
    ("估值", "valuation", "valued", "worth", "值多少钱", "值多少", "值几个钱", "值钱"),
    ("营收", "营业收入", "revenue", "sales", "income", "turnover", "销售额", "收入", "进账"),
    ("利润", "盈利", "profit", "earnings", "profitable", "profitability", "赚钱", "挣钱", "搞钱"),
    ("净利润", "net profit", "net income", "净赚"),
    ("分红权", "分红", "dividend", "profit share", "share of profits", "利润分成", "profit sharing"),
    ("季报", "quarterly report", "财报", "earnings report", "季度业绩", "年报"),
    ("融资", "募资", "financing", "funding", "funding rounds", "raised", "fundraising", "funded", "拉投资", "筹资", "raise", "raising"),
    ("并购", "收购", "acquire", "acquired", "acquisition", "merger", "买下", "买了", "吞并", "兼并", "takeover", "bought"),
    ("初创企业", "初创公司", "创业公司", "startup", "startups", "start-up", "小公司"),
    ("成本", "cost", "costs", "花费", "开销", "烧钱", "花钱", "花销", "费用", "spent"),
    ("研发投入", "r&d", "research and development", "研发"),
    # technology and operations
    ("算力", "computing power", "compute", "计算能力", "计算资源", "computing", "compute cluster", "computing cluster", "算力集群"),
    ("参数", "parameters", "parameter"),
    ("云计算", "cloud computing", "cloud"),
    ("超级计算", "supercomputing", "supercomputer", "超算"),
    ("搜索流量", "search traffic", "访问量"),
    ("聊天机器人", "对话机器人", "chatbot", "chat bot", "陪聊机器人", "聊天软件", "聊天ai", "conversational ai"),
    ("知识产权", "intellectual property", "ip"),
    ("商业化", "变现", "commercialization", "commercialize", "monetize", "monetization", "商用", "commercial"),
    ("用户规模", "user base", "number of users", "用户数"),
    ("虚拟助理", "virtual assistant", "虚拟助手", "语音助手", "ai助手"),
    ("即时翻译", "real-time translation", "instant translation", "同声传译"),
    ("迁移", "migrate", "migrated", "move", "moved", "搬迁", "搬到", "switch"),
    # common English words of business news
    ("历史高点", "record high", "all-time high", "highest", "新高", "创新高", "all time high", "peak"),
    ("上涨", "上升", "rise", "rose", "increase", "increased", "grew", "gain", "涨了", "攀升"),
    ("下降", "下跌", "下滑", "decline", "declined", "drop", "dropped", "fall", "fell", "decrease", "跌了", "降了", "缩水", "减少", "流失"),
    ("增长", "growth", "grow", "growing"),
    ("流量", "traffic", "导流"),
    ("搜索", "search"),
    ("预计", "预测", "expected", "estimated", "estimate", "forecast", "predicted", "predict", "prediction", "projected", "expect"),
    ("每天", "per day", "daily", "a day", "each day", "每日", "一天"),
    ("上线", "推出", "launch", "launched", "went live", "release", "released", "introduce",
     "introduced", "roll out", "rolled out"),
    ("开发", "develop", "developed", "developing", "development", "build", "built", "搞出来", "弄出来", "做出来", "捣鼓", "鼓捣"),
    ("支持", "support", "supported", "backing", "帮忙", "撑腰", "力挺", "扶持"),
    ("转型", "transform", "transformation", "transition", "became", "restructure"),
    ("技术", "technology", "technologies", "tech"),
    ("产品", "product", "products"),
    ("企业", "company", "companies", "enterprise", "firm"),
    ("用户", "users", "user", "customers"),
    ("服务", "service", "services"),
    # reasons, lessons
    ("原因", "reason", "reasons", "why", "为什么", "为啥", "动机", "图什么", "motivation"),
    ("启示", "lesson", "lessons", "insight", "insights", "takeaway", "takeaways"),
    ("合作", "联手", "携手", "cooperation", "partnership", "partner", "collaboration", "collaborate", "抱团"),
    ("竞争优势", "competitive advantage", "edge", "竞争力"),
    ("互惠", "mutual benefit", "win-win", "双赢", "共赢", "互利"),
    ("愿景", "vision"),
    ("非盈利", "non-profit", "nonprofit", "非营利", "not-for-profit", "不以营利为目的", "不以赚钱为目的"),
    ("有限盈利", "capped-profit", "capped profit", "有限营利", "利润上限", "利润封顶", "capped"),
    ("对抗", "compete with", "rival", "对手", "抗衡", "叫板"),
    ("首席执行官", "ceo", "chief executive", "chief executive officer", "老板", "掌门人", "一把手"),
    ("创始人", "创办人", "founder", "cofounder", "co-founder"),
    ("高管", "高层", "executive", "senior management"),
    ("董事会", "board of directors", "board"),
    ("投资者", "投资人", "investor", "金主"),
    ("员工", "职员", "employee", "staff", "workforce", "打工人"),
    ("程序员", "programmer", "coder", "码农", "程序猿"),
    ("开发者", "开发人员", "developer"),
    ("专家", "expert", "大牛", "大神"),
    ("科技巨头", "大型科技企业", "巨头", "big tech", "tech giant", "giant", "大厂", "互联网大厂"),
    ("龙头企业", "行业龙头", "industry leader", "market leader", "一哥"),
    ("竞争对手", "competitor", "竞品"),
    ("行业", "industry", "industries", "sector"),
    ("资金", "funds", "money", "capital", "资本"),
    ("风险投资", "风投", "venture capital", "venture capitalist"),
    ("亏损", "loss", "lose money", "亏钱", "赔钱", "亏本"),
    ("支出", "开支", "spend", "expenditure", "expense"),
    ("商业模式", "盈利模式", "business model", "赚钱模式"),
    ("价格", "售价", "定价", "price", "pricing", "价钱"),
    ("收费", "付费", "fee", "paid version", "paywall"),
    ("免费", "free", "free of charge", "不要钱", "白嫖"),
    ("飙升", "surge", "soar", "skyrocket", "jump", "暴涨", "大涨", "狂涨"),
    ("暴跌", "plunge", "plummet", "slump", "大跌", "狂跌", "跳水"),
    ("上市", "ipo", "go public", "going public", "went public"),
    ("股权", "股份", "持股", "stake", "equity", "shareholding"),
    ("股市", "股票市场", "stock market", "大盘"),
    ("市场份额", "市场占有率", "market share", "占有率"),
    ("前景", "prospect", "outlook"),
    ("热潮", "boom", "craze", "frenzy", "火爆"),
    ("走红", "风靡", "go viral", "went viral", "viral", "刷屏", "出圈", "爆火", "火了"),
    ("炒作", "hype", "蹭热度", "炒概念"),
    ("裁员", "layoff", "lay off", "laid off", "job cuts", "被裁", "炒鱿鱼"),
    ("招聘", "hire", "recruit", "recruitment", "招人"),
    ("挖角", "poach", "挖人", "抢人"),
    ("薪酬", "薪资", "salary", "compensation", "wage", "工资", "薪水"),
    ("破产", "倒闭", "bankruptcy", "bankrupt", "go bust", "went bust"),
    ("先机", "领先", "head start", "lead", "first-mover advantage", "抢先", "先手", "抢跑", "先行者优势", "first mover"),
    ("落后", "lag behind", "fall behind", "fell behind", "掉队", "拖后腿"),
    ("超越", "反超", "surpass", "overtake", "outperform"),
    ("竞争", "competition", "compete", "competitive", "内卷"),
    ("护城河", "moat"),
    ("优势", "advantage", "strength", "强项", "长板"),
    ("劣势", "disadvantage", "weakness", "短板", "弱项"),
    ("瓶颈", "bottleneck", "卡脖子"),
    ("机会", "机遇", "opportunity", "opportunities"),
    ("战略", "strategy", "strategies", "strategic", "打法"),
    ("专注", "聚焦", "focus", "concentrate on", "主攻", "死磕"),
    ("边界", "界限", "boundary", "boundaries", "frontier"),
    ("上下游", "upstream", "downstream"),
    ("产业链", "industry chain", "value chain"),
    ("供应链", "supply chain"),
    ("生态系统", "生态", "ecosystem", "生态圈"),
    ("客户", "client", "甲方"),
    ("海外", "overseas", "abroad", "国外", "出海"),
    ("监管", "regulation", "regulate", "regulator", "regulatory"),
    ("发布", "宣布", "公布", "announce", "announcement", "unveil", "官宣"),
    ("训练", "train", "training", "炼丹"),
    ("训练数据", "training data", "training set"),
    ("芯片", "chip"),
    ("数据中心", "data center", "data centre", "机房"),
    ("量子计算", "quantum computing"),
    ("边缘计算", "edge computing"),
    ("深度学习", "deep learning"),
    ("机器学习", "machine learning"),
    ("神经网络", "neural network"),
    ("自然语言处理", "natural language processing", "nlp"),
    ("计算机视觉", "computer vision"),
    ("智能体", "ai agent", "agent"),
    ("幻觉", "hallucination", "hallucinate", "胡编乱造", "瞎编"),
    ("开源", "open source", "open-source"),
    ("前沿技术", "尖端技术", "cutting-edge", "cutting edge", "state-of-the-art", "黑科技"),
    ("创新", "innovation", "innovate", "innovative"),
    ("颠覆", "disrupt", "disruption", "disruptive", "改变游戏规则", "game changer"),
    ("应用场景", "使用场景", "scenario", "use case", "application scenario", "用在哪", "应用领域"),
    ("企业版", "enterprise edition", "enterprise version"),
    ("云服务", "云业务", "cloud service", "cloud business"),
    ("集成", "整合", "接入", "integrate", "integration", "塞进", "嵌入", "embed"),
    ("性能", "performance", "跑分"),
    ("自动驾驶", "无人驾驶", "autonomous driving", "self-driving", "driverless"),
    ("网络安全", "cybersecurity", "cyber security", "网安"),
    ("漏洞", "vulnerability", "vulnerabilities", "bug", "security flaw"),
    ("宕机", "服务中断", "outage", "downtime", "崩了"),
    ("机器人", "robot", "robotics"),
    ("取代", "替代", "replace", "抢饭碗"),
    ("什么时候", "何时", "when did", "when will", "when was", "啥时候", "啥时", "几时"),
    # paraphrases, slang and English of the article's words (a third round, drafted from the
    # article alone)
    ("合作历史", "渊源", "开始合作"),
    ("设立", "成立"),
    ("openai lp", "limited partnership", "有限合伙"),
    ("作为交换", "in return", "换取"),
    ("许可", "license", "授权"),
    ("gpt-3", "gpt3"),
    ("api", "接口"),
    ("收回投资", "recoup", "回本"),
    ("10亿美元", "1 billion", "十亿美元"),
    ("20亿美元", "2 billion"),
    ("100亿美元", "10 billion"),
    ("75%", "75 percent"),
    ("49%", "49 percent"),
    ("资本市场", "wall street", "华尔街"),
    ("认可", "买账"),
    ("加持", "thanks to", "buff", "得益于"),
    ("1.79万亿美元", "1.79 trillion"),
    ("2.48万亿美元", "2.48 trillion"),
    ("7000亿美元", "700 billion"),
    ("360美元", "$360"),
    ("300亿美元", "30 billion"),
    ("成长速度最快", "fastest-growing", "fastest growing", "增长最快"),
    ("similarweb", "similar web"),
    ("1%", "1 percent"),
    ("q2", "second quarter", "二季度"),
    ("推动因素", "driver", "驱动力"),
    ("亟需", "急需"),
    ("领先地位", "技术领先", "领头羊"),
    ("主导地位", "dominance", "dominant", "统治地位"),
    ("transformer", "注意力机制"),
    ("布局", "bet on", "押注"),
    ("实验室", "lab", "labs"),
    ("高昂", "costly", "昂贵"),
    ("运营成本", "operating cost", "运营费用"),
    ("算力成本", "compute cost", "推理成本"),
    ("1750亿", "175 billion", "175b"),
    ("70万美元", "700,000"),
    ("5.44亿美元", "544 million"),
    ("消耗", "burn"),
    ("调优", "fine-tuning", "微调"),
    ("抓取", "crawl", "爬取"),
    ("刚需", "essential", "离不开"),
    ("本质", "实质"),
    ("优势互补", "取长补短", "各取所需"),
    ("iphone时刻", "iphone moment", "拐点"),
    ("前瞻布局", "提前布局", "未雨绸缪"),
    ("绑定", "lock in", "捆绑"),
    ("地缘政治冲突", "geopolitical"),
    ("经济疲软", "recession", "经济下行"),
    ("增速放缓", "slowdown", "增长放缓"),
    ("15%", "15 percent"),
    ("封闭式创新", "closed innovation", "闭门造车", "单打独斗"),
    ("上半年", "first half", "h1", "前六个月"),
    ("一级市场", "primary market"),
    ("拔地而起", "涌现"),
    ("落地", "deploy", "实际应用"),
    ("典范", "标杆"),
    ("渗透率", "penetration", "普及率"),
    ("财年", "fy2025"),
    ("增量机会", "incremental"),
    ("900亿美元", "90 billion"),
)
#: named things (companies, products) and then terms
GROUPS = NAMES + TERMS


@lru_cache(maxsize=1)
def _index() -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    lookup: dict[str, tuple[str, ...]] = {}
    for group in GROUPS:
        for term in group:
            lookup[term] = group
    terms = sorted(lookup, key=len, reverse=True)
    # English terms also match their plural and -ed/-ing forms (chatbots, acquired), except
    # short ones, where a suffix makes another word ("ai" + "d")
    parts = [(rf"(?<![a-z0-9]){re.escape(t)}{'(?:s|es|d|ed|ing)?' if len(t) >= 4 else ''}"
              r"(?![a-z0-9])") if t.isascii() else re.escape(t) for t in terms]
    return re.compile("|".join(parts)), lookup


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH = re.compile(rf"(?<![a-z])({'|'.join(_MONTHS)}|{'|'.join(m[:3] for m in _MONTHS)})\.?"
                    r"(?:\s+(?:of\s+)?(\d{4}))?(?![a-z])")


_ORDINAL = re.compile(r"第([一二三四五六七八九十])(?:条|点|个|项|方面|是)")
_ORDINAL_EN = re.compile(r"\b(first|second|third|fourth|fifth)\b")
_NUMERALS = {"first": "一", "second": "二", "third": "三", "fourth": "四", "fifth": "五"}


def _lookup(found: str, lookup: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The group of a matched term, also when it matched in an inflected form."""
    if found in lookup:
        return lookup[found]
    for suffix in ("ing", "es", "ed", "s", "d"):
        if found.endswith(suffix) and found[: -len(suffix)] in lookup:
            return lookup[found[: -len(suffix)]]
    return ()


def expansions(question: str) -> list[str]:
    """The usual Chinese form of each glossary term in ``question`` that it does not already
    hold (for an English term, every Chinese form before its first English one: "launched" ->
    上线 推出), ordinals as
    enumeration markers (第二条 -> 二是), English months as 2023年8月."""
    pattern, lookup = _index()
    q = question.lower()
    out: list[str] = []
    for m in pattern.finditer(q):
        group = _lookup(m.group(), lookup)
        forms = group[:1]
        if m.group().isascii():  # an English word: every Chinese form leading the group
            forms = tuple(itertools.takewhile(lambda t: not t.isascii(), group)) or forms
        for term in forms:
            if term not in q and term not in out:
                out.append(term)
    # Chinese enumerations read "一是…二是…" or "其一…其二": 第二条 means the "二是" item
    numerals = [m.group(1) for m in _ORDINAL.finditer(q)]
    numerals += [_NUMERALS[m.group(1)] for m in _ORDINAL_EN.finditer(q)]
    out += [form for n in numerals for form in (f"{n}是", f"其{n}")]
    for m in _MONTH.finditer(q):
        month = [x[:3] for x in _MONTHS].index(m.group(1)[:3]) + 1
        if m.group(1) == "may" and not m.group(2):
            continue  # "may" is usually the verb
        out.append(f"{m.group(2)}年{month}月" if m.group(2) else f"{month}月")
    return out


def synonyms(term: str) -> tuple[str, ...]:
    """Every form of the glossary group ``term`` belongs to (必应 -> bing, newbing, …), or ()."""
    return _lookup(term.lower(), _index()[1])


@lru_cache(maxsize=1)
def _name_patterns() -> list[tuple[tuple[str, ...], re.Pattern[str]]]:
    """Each ``NAMES`` group with one pattern matching any of its forms as a whole word."""
    return [(g, re.compile("|".join(rf"(?<![a-z]){re.escape(t)}(?![a-z])" for t in g)))
            for g in NAMES]


def named(question: str) -> list[tuple[str, ...]]:
    """The ``NAMES`` groups ``question`` mentions in any of their forms (巨硬 -> the 微软 group)."""
    q = question.lower()
    return [g for g, pattern in _name_patterns() if pattern.search(q)]


def expand(question: str) -> str:
    """``question`` followed by the Chinese equivalents of its glossary terms."""
    extra = expansions(question)
    return f"{question} {' '.join(extra)}" if extra else question
